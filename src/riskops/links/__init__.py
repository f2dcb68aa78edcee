"""Linked accounts: a graph of shared attributes (phone, IP, device, email, addresses, counterparties) kept current as events arrive, hub values down-weighted, clusters alerted. Issue 10."""

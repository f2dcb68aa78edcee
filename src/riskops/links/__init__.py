"""Linked accounts: a graph of shared attributes (devices, phones, emails, IPs, cards,
addresses, counterparties) kept current as events arrive, hub values down-weighted,
clusters alerted. Issue 10."""

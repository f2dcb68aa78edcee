"""Sanctions and PEP screening: list loaders, a matcher that survives name variation, hits and their review. Issue 10."""

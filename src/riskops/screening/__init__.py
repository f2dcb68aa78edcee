"""Sanctions and PEP screening: list loaders, a matcher that survives name variation,
hits and their review (ADRs 0025, 0027). Issue 10."""

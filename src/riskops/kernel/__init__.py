"""Shared plumbing: configuration, database, time, errors, logging."""

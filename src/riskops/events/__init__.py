"""Events: the canonical schema, validation, ingestion adapters and dead letters."""

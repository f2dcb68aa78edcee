"""The append-only audit trail: every action and every view of an account or case."""

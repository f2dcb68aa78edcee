"""riskops: risk operations for crypto exchanges."""

__version__ = "0.1.0"

"""The rule author's workbench: rules and models, versions, backtests, approved promotions."""

"""SAR / STR: drafts from a case, compliance approval, goAML and FinCEN exports validated
against the schema, the filing record, retention. Issue 11."""

"""Quality assurance: closed cases sampled for a second review, agreement per analyst and
rule. Issue 11."""

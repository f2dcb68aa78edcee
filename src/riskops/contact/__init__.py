"""Talking to the account holder: templates, preview, send through the outbound outbox,
replies attached to the case, and the tipping-off guard. Issue 11."""

"""Everything that leaves riskops (email, SMS, webhooks): one outbox written in the
change's own transaction and delivered by a worker with retries. Issue 11."""

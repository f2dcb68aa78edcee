"""Case work: alerts from four sources, cases, queues, SLA, decisions, notes, approvals."""

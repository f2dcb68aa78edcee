"""The account 360: everything an analyst sees about one account (profile, flows,
restrictions, holds, cases, alerts, timeline, rating, linked accounts, screening hits,
intelligence), gathered from the domains below. It sits in the reports layer, above cases
and the monitor whose results it reads (ADR 0023)."""

"""The account 360 read side: profile, money flows, restrictions, holds, cases, timeline."""

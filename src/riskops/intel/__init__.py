"""Intelligence on IPs, phones, emails and crypto addresses from data shipped in registry packages; mismatch checks. Issue 10."""

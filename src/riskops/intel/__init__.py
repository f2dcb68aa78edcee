"""Intelligence on IPs, phones, emails and crypto addresses from data shipped in registry
packages; mismatch checks; links to outside websites. Issue 10. No database: ``service``
is the entry point (``describe(value)``)."""

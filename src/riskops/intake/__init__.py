"""Alert sources 2, 3 and 4: inbound email, SMS provider signals and service requests."""

"""Users, roles, sessions, API tokens and the permission check every service calls."""

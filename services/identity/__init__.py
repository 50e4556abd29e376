"""VNeID / DVCQG SSO and population database (mock)."""

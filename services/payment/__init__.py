"""PayGov national payment platform (mock)."""

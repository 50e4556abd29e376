"""Cổng DVCQG dossier sync (mock)."""

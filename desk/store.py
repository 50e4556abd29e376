"""The desk's own records: the queue of dossiers it received and the calls that failed.

A province's system keeps its own database; this one is a SQLite file with two tables.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS dossiers (
    ma_ho_so TEXT PRIMARY KEY,
    received_at TEXT NOT NULL,
    status INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS errors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    ma_ho_so TEXT,
    platform TEXT NOT NULL,
    call TEXT NOT NULL,
    code TEXT NOT NULL,
    message TEXT NOT NULL
);
"""


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.lock = threading.Lock()
        with self.lock, self.db:
            self.db.executescript(SCHEMA)

    def keep(self, dossier: dict[str, Any], received_at: datetime) -> None:
        """Insert or refresh a dossier (the platform's copy is the truth for its fields)."""
        with self.lock, self.db:
            self.db.execute(
                "INSERT INTO dossiers (ma_ho_so, received_at, status, data) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (ma_ho_so) DO UPDATE SET status = excluded.status, data = excluded.data",
                (
                    dossier["MaHoSo"],
                    received_at.isoformat(),
                    int(dossier.get("TrangThaiHoSo") or 1),
                    json.dumps(dossier, ensure_ascii=False),
                ),
            )

    def queue(self) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.db.execute("SELECT data, received_at FROM dossiers ORDER BY received_at DESC").fetchall()
        return [{**json.loads(r["data"]), "_received_at": r["received_at"]} for r in rows]

    def get(self, ma_ho_so: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.db.execute("SELECT data FROM dossiers WHERE ma_ho_so = ?", (ma_ho_so,)).fetchone()
        return json.loads(row["data"]) if row else None

    def error(self, at: datetime, ma_ho_so: str | None, platform: str, call: str, code: str, message: str) -> None:
        with self.lock, self.db:
            self.db.execute(
                "INSERT INTO errors (at, ma_ho_so, platform, call, code, message) VALUES (?, ?, ?, ?, ?, ?)",
                (at.isoformat(), ma_ho_so, platform, call, code, message),
            )

    def errors(self, limit: int = 50) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.db.execute("SELECT * FROM errors ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [dict(r) for r in rows]

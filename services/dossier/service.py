"""The sync API's behaviour, as the router calls it. No HTTP types here.

The behaviour lives in modules named for their concern: a batch call's switches and shared
writes in :mod:`~services.dossier.batch`, DongBoHoSoMC in :mod:`~services.dossier.sync`,
CapNhatTienDoHoSoMC in :mod:`~services.dossier.progress`, TraCuuHoSo in
:mod:`~services.dossier.lookup`. Nothing here commits: the router's unit of work commits
once after the reply is built.
"""

from __future__ import annotations

from services.dossier.batch import start_run, summarize
from services.dossier.lookup import lookup, page_bounds, search
from services.dossier.progress import update_progress
from services.dossier.sync import sync_dossiers

__all__ = ["lookup", "page_bounds", "search", "start_run", "summarize", "sync_dossiers", "update_progress"]

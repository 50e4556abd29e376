"""State of the dossier service: its tables. Every table carries a ``tenant`` column."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from vnsandbox.db import NAMING


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)

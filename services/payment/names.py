"""Display names of banks and procedures, from the shared Vietnamese data in :mod:`vnsandbox.vn`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from services.payment.protocol import MAGIC_BANKS
from vnsandbox.vn import catalogue
from vnsandbox.vn.banks import BANK_CODES_CSV, banks


def procedure_name(info: Mapping[str, Any]) -> str:
    """``TenTTHC`` as the partner sent it, else the catalogue's name of ``MaTTHC`` (else empty)."""
    given = info.get("TenTTHC")
    if isinstance(given, str) and given:
        return given
    code = info.get("MaTTHC")
    procedure = catalogue.get(code) if isinstance(code, str) else None
    return procedure.name if procedure is not None else ""


def bank_name(code: str, path: Path = BANK_CODES_CSV) -> str:
    for bank in banks(path):
        if bank.code == code:
            return bank.name
    if code in MAGIC_BANKS:
        return "Ngân hàng thử nghiệm (sandbox)"
    return code

"""Rules of the portal: wire times, the status machine, record validation and the
plausibility of a record's times.

Pure functions over wire dicts (no database, no HTTP): what the service layer applies,
and what the tests specify one rule at a time. Every refusal is a
:func:`services.dossier.errors.detail` naming the field and the rule in both languages.
Wire values live in :mod:`~services.dossier.wire`, the status machine in
:mod:`~services.dossier.statuses`, the record rules in :mod:`~services.dossier.records`;
this module gathers them with the plausibility rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from services.dossier.errors import detail
from services.dossier.records import MA_HO_SO_RE, Checked, check_dossier, check_progress, code_day
from services.dossier.statuses import (
    CLOSING_STATUSES,
    FINAL_STATUSES,
    STATUS_NAMES,
    TRANSITIONS,
    allowed,
    transition_problem,
)
from services.dossier.wire import VN_OFFSET, as_int, parse_period_bound, parse_wire_time, to_wire_time
from vnsandbox.vn import cccd

__all__ = [
    "CLOSING_STATUSES",
    "FINAL_STATUSES",
    "HAPPENED_FIELDS",
    "STATUS_NAMES",
    "TIME_RULES",
    "TRANSITIONS",
    "Checked",
    "allowed",
    "as_int",
    "check_dossier",
    "check_progress",
    "parse_period_bound",
    "parse_wire_time",
    "progress_time_problems",
    "time_problems",
    "to_wire_time",
    "transition_problem",
]

# --------------------------------------------------------------------------- plausibility

#: Record times that say when something happened (unlike ``NgayHenTra``, a due date).
HAPPENED_FIELDS = ("NgayNopHoSo", "NgayTiepNhan", "NgayKetThucXuLy", "NgayTuChoi", "NgayTra")
#: Rules of :func:`time_problems` and :func:`progress_time_problems`: a record refused only
#: for these is answered code 28 (implausible time), not 20.
TIME_RULES = frozenset({"future", "future_date", "cccd_birth_future", "before_receipt"})


def _future(field: str, value: str, latest: datetime) -> dict[str, str]:
    bound = to_wire_time(latest)
    return detail(
        field,
        "future",
        f"{field} ({value}) ở tương lai: muộn hơn đồng hồ của hệ thống cộng dung sai ({bound})",
        f"{field} ({value}) is in the future: later than the portal's clock plus its tolerance ({bound})",
    )


def time_problems(rec: Mapping[str, Any], times: Mapping[str, datetime], latest: datetime) -> list[dict[str, str]]:
    """A dossier record's dates against ``latest`` (the tenant's clock plus the tolerance,
    naive UTC): what happened cannot be later, nor the day in ``MaHoSo``, nor the owner's
    birth year that the CCCD's digits 4–6 encode."""
    out = [_future(f, str(rec.get(f)), latest) for f in HAPPENED_FIELDS if f in times and times[f] > latest]
    local = (latest + VN_OFFSET).date()
    code = rec.get("MaHoSo")
    m = MA_HO_SO_RE.match(code) if isinstance(code, str) else None
    if m is not None:
        day = m["day"]
        filed = code_day(day)  # None: refused by the format rule
        if filed is not None and filed > local:
            out.append(
                detail(
                    "MaHoSo",
                    "future_date",
                    f"Phần ngày {day} trong MaHoSo ở tương lai (hôm nay {local:%y%m%d})",
                    f"The date part {day} of MaHoSo is in the future (today is {local:%y%m%d})",
                )
            )
    number = rec.get("SoGiayToChuHoSo")
    if (rec.get("LoaiDoiTuong") or 1) == 1 and isinstance(number, str) and not cccd.format_problems(number.strip()):
        born = cccd.decode(number.strip()).birth_year
        if born > local.year:
            out.append(
                detail(
                    "SoGiayToChuHoSo",
                    "cccd_birth_future",
                    f"Chữ số thứ 4–6 của số định danh chỉ năm sinh {born}, sau năm hiện tại {local.year}",
                    f"Digits 4–6 of the identification number mean born in {born}, after the current year {local.year}",
                )
            )
    return out


def progress_time_problems(
    rec: Mapping[str, Any], at: datetime, latest: datetime, received_at: datetime | None
) -> list[dict[str, str]]:
    """A progress record's ``ThoiDiemXuLy`` (``at``) against ``latest`` and the dossier's
    receipt: a step cannot happen in the future nor before the dossier was received."""
    if at > latest:
        return [_future("ThoiDiemXuLy", str(rec.get("ThoiDiemXuLy")), latest)]
    if received_at is not None and at < received_at:
        received = to_wire_time(received_at)
        return [
            detail(
                "ThoiDiemXuLy",
                "before_receipt",
                f"ThoiDiemXuLy trước thời điểm tiếp nhận hồ sơ (NgayTiepNhan {received})",
                f"ThoiDiemXuLy is before the dossier was received (NgayTiepNhan {received})",
            )
        ]
    return []

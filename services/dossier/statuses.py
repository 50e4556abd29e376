"""The dossier status machine (domain.md section 2): status names, final and closing
statuses, and the transitions strict mode allows."""

from __future__ import annotations

from services.dossier.errors import detail
from vnsandbox.vn.statuses import STATUS_NAMES as STATUS_NAMES

FINAL_STATUSES = frozenset({3, 8, 10})
#: Statuses that end processing (for overdue and on-time measures).
CLOSING_STATUSES = frozenset({3, 7, 8, 9, 10})
#: Transitions enforced in strict mode (domain.md section 2).
TRANSITIONS: dict[int, frozenset[int]] = {
    1: frozenset({2, 3}),
    2: frozenset({4}),
    4: frozenset({5, 6, 8, 9}),
    5: frozenset({4, 8}),
    6: frozenset({4, 9}),
    7: frozenset({8}),
    9: frozenset({10}),
}


def allowed(current: int, new: int) -> bool:
    """Is ``current → new`` legal in strict mode? (Staying in the same status is.)"""
    if current == new:
        return True
    if current in FINAL_STATUSES:
        return False
    if new == 7:
        return True
    return new in TRANSITIONS.get(current, frozenset())


def transition_problem(current: int, new: int) -> dict[str, str] | None:
    if allowed(current, new):
        return None
    if current in FINAL_STATUSES:
        return detail(
            "TrangThaiHoSo",
            "final_status",
            f"Hồ sơ đã ở trạng thái kết thúc {current} ({STATUS_NAMES[current]}), không thể chuyển sang {new}",
            f"Status {current} is final; cannot move to {new}",
        )
    legal = sorted(TRANSITIONS.get(current, frozenset()) | {7})
    return detail(
        "TrangThaiHoSo",
        "transition",
        f"Không được chuyển từ trạng thái {current} sang {new}; được phép: {legal}",
        f"Cannot move from status {current} to {new}; allowed: {legal}",
    )

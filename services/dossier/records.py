"""Validation of the sync API's records: a DongBoHoSoMC dossier record (a table of rules,
run in order, each returning its problems) and a CapNhatTienDoHoSoMC progress record.

Pure functions over wire dicts (no database, no HTTP). Every refusal is a
:func:`services.dossier.errors.detail` naming the field and the rule in both languages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeGuard

from services.dossier.errors import detail
from services.dossier.statuses import STATUS_NAMES
from services.dossier.wire import as_int, parse_wire_time
from vnsandbox.vn import catalogue, cccd

MA_HO_SO_RE = re.compile(r"^(?P<unit>[A-Z0-9][A-Z0-9.]{2,40})-(?P<day>\d{6})-(?P<seq>\d{5})$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^(0|\+84)\d{9,10}$")
ENUMS: dict[str, tuple[int, ...]] = {
    "KenhThucHien": (1, 2, 3),
    "LoaiDoiTuong": (1, 2, 3, 4),
    "TrangThaiHoSo": tuple(range(1, 11)),
    "TaiKhoanDuocXacThucVoiVNeID": (0, 1),
    "DuocThanhToanTrucTuyen": (0, 1, 2),
    "HoSoCoThanhPhanSoHoa": (0, 1),
}
DATE_FIELDS = ("NgayNopHoSo", "NgayTiepNhan", "NgayHenTra", "NgayKetThucXuLy", "NgayTuChoi", "NgayTra")
LIST_FIELDS = ("TaiLieuNop", "DanhSachLePhi", "DanhSachHoSoBoSung", "DanhSachGiayToKetQua")
TEXT_FIELDS = ("MaHoSo", "MaTTHC", "ChuHoSo", "SoGiayToChuHoSo", "DiaChiChuHoSo", "SoDienThoai", "Email")


@dataclass
class Checked:
    """A record after validation: normalised copy, parsed times, and the problems found."""

    record: dict[str, Any]
    problems: list[dict[str, str]]
    times: dict[str, datetime]
    warnings: list[dict[str, str]]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _filled(value: Any) -> TypeGuard[str]:
    """A non-blank string (the fields whose format a rule checks)."""
    return isinstance(value, str) and bool(value.strip())


def _required(field: str, why_vi: str, why_en: str) -> dict[str, str]:
    return detail(field, "required", f"Thiếu trường bắt buộc {field} ({why_vi})", f"{field} is required ({why_en})")


@dataclass
class DossierDraft:
    """A DongBoHoSoMC record while its rules run: the record (normalised by the type rules),
    what the sender may sync for, and what earlier rules found (parsed dates, the procedure,
    problems so far, warnings)."""

    record: dict[str, Any]
    unit_codes: frozenset[str]
    fee_check: str
    problems: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    times: dict[str, datetime] = field(default_factory=dict)
    procedure: catalogue.Procedure | None = None

    @property
    def status(self) -> Any:
        return self.record.get("TrangThaiHoSo")

    @property
    def channel(self) -> Any:
        return self.record.get("KenhThucHien") or 1

    @property
    def owner_is_citizen(self) -> bool:
        return (self.record.get("LoaiDoiTuong") or 1) == 1


Problems = list[dict[str, str]]


# Types first: a value of the wrong type is reported and set to None, so the rules after
# it see either a usable value or nothing.


def _text_types(d: DossierDraft) -> Problems:
    problems = []
    for f in TEXT_FIELDS:
        if f in d.record and d.record[f] is not None and not isinstance(d.record[f], str):
            problems.append(detail(f, "type", f"{f} phải là chuỗi ký tự", f"{f} must be a string"))
            d.record[f] = None
    return problems


def _enum_values(d: DossierDraft) -> Problems:
    """Coded fields hold one of their values (as a number or a digit string, stored as a number)."""
    problems = []
    for f, allowed_values in ENUMS.items():
        if f not in d.record or d.record[f] is None or d.record[f] == "":
            continue
        n = as_int(d.record[f])
        if n is None or n not in allowed_values:
            problems.append(
                detail(
                    f,
                    "enum",
                    f"{f} phải là một trong {list(allowed_values)}",
                    f"{f} must be one of {list(allowed_values)}",
                )
            )
        d.record[f] = n if n in allowed_values else None
    return problems


def _list_types(d: DossierDraft) -> Problems:
    problems = []
    for f in LIST_FIELDS:
        value = d.record.get(f)
        if value is not None and (not isinstance(value, list) or not all(isinstance(x, dict) for x in value)):
            problems.append(detail(f, "type", f"{f} phải là danh sách đối tượng", f"{f} must be a list of objects"))
            d.record[f] = None
    return problems


# Required fields, by status and channel.


def _required_in_every_dossier(d: DossierDraft) -> Problems:
    problems = [
        _required(f, "mọi hồ sơ", "every dossier") for f in ("MaHoSo", "MaTTHC", "ChuHoSo") if _missing(d.record.get(f))
    ]
    if d.status is None and "TrangThaiHoSo" not in {p["field"] for p in d.problems}:
        problems.append(_required("TrangThaiHoSo", "mọi hồ sơ", "every dossier"))
    return problems


def _required_once_received(d: DossierDraft) -> Problems:
    if d.status in (1, 3, None):
        return []
    return [
        _required(f, "hồ sơ đã tiếp nhận", "received dossiers")
        for f in ("NgayTiepNhan", "NgayHenTra")
        if _missing(d.record.get(f))
    ]


def _required_once_finished(d: DossierDraft) -> Problems:
    if d.status in (9, 10) and _missing(d.record.get("NgayKetThucXuLy")):
        return [_required("NgayKetThucXuLy", "hồ sơ đã xử lý xong", "finished dossiers")]
    return []


def _required_citizen_number(d: DossierDraft) -> Problems:
    if d.owner_is_citizen and _missing(d.record.get("SoGiayToChuHoSo")):
        return [_required("SoGiayToChuHoSo", "chủ hồ sơ là công dân", "the owner is a citizen")]
    return []


def _required_online(d: DossierDraft) -> Problems:
    """An online dossier (channel 2) names a way to reach the owner and whether the
    owner's account was verified with VNeID."""
    if d.channel != 2:
        return []
    problems = []
    if _missing(d.record.get("SoDienThoai")) and _missing(d.record.get("Email")):
        problems.append(
            detail(
                "SoDienThoai",
                "required",
                "Hồ sơ trực tuyến cần số điện thoại hoặc email của chủ hồ sơ",
                "Online dossiers need the owner's phone number or email",
            )
        )
    if d.record.get("TaiKhoanDuocXacThucVoiVNeID") is None:
        problems.append(_required("TaiKhoanDuocXacThucVoiVNeID", "hồ sơ trực tuyến", "online dossiers"))
    return problems


def _required_postal(d: DossierDraft) -> Problems:
    if d.channel == 3 and _missing(d.record.get("DiaChiChuHoSo")):
        return [_required("DiaChiChuHoSo", "nộp qua bưu chính", "postal dossiers")]
    return []


# Codes and references.


def _ma_ho_so(d: DossierDraft) -> Problems:
    """MaHoSo: <unit code>-<yyMMdd>-<5 digits>, the unit the sender or one of its sub-units."""
    code = d.record.get("MaHoSo")
    if not _filled(code):
        return []
    m = MA_HO_SO_RE.match(code)
    if not m:
        return [
            detail(
                "MaHoSo",
                "format",
                "MaHoSo phải có dạng <mã đơn vị>-<yyMMdd>-<5 chữ số>, ví dụ 000.00.01.H22-240915-12345",
                "MaHoSo must be <unit code>-<yyMMdd>-<5 digits>, e.g. 000.00.01.H22-240915-12345",
            )
        ]
    problems = []
    if code_day(m["day"]) is None:
        problems.append(
            detail(
                "MaHoSo",
                "format_date",
                f"Phần ngày {m['day']} trong MaHoSo không phải ngày hợp lệ (yyMMdd)",
                f"The date part {m['day']} of MaHoSo is not a valid yyMMdd date",
            )
        )
    if m["unit"] not in d.unit_codes:
        problems.append(
            detail(
                "MaHoSo",
                "unit_prefix",
                f"Mã đơn vị {m['unit']} trong MaHoSo không phải đơn vị gửi hoặc đơn vị trực thuộc",
                f"Unit code {m['unit']} in MaHoSo is not the sending unit or one of its sub-units",
            )
        )
    return problems


def code_day(day: str) -> date | None:
    """The ``yyMMdd`` part of a MaHoSo as a date (None when it is no date)."""
    try:
        return date(2000 + int(day[:2]), int(day[2:4]), int(day[4:6]))
    except ValueError:
        return None


def _procedure(d: DossierDraft) -> Problems:
    """MaTTHC names a procedure of the catalogue (kept for the fee rule)."""
    code = d.record.get("MaTTHC")
    if not _filled(code):
        return []
    d.procedure = catalogue.get(code.strip())
    if d.procedure is not None:
        return []
    return [
        detail(
            "MaTTHC",
            "catalogue",
            f"Mã thủ tục {code} không có trong danh mục TTHC",
            f"Procedure code {code} is not in the procedure catalogue",
        )
    ]


# Dates: format, then order.


def _date_formats(d: DossierDraft) -> Problems:
    """Each date is ``yyyyMMddHHmmss`` (Vietnam time); the parsed ones are kept in ``times``."""
    problems = []
    for f in DATE_FIELDS:
        v = d.record.get(f)
        if _missing(v):
            continue
        try:
            d.times[f] = parse_wire_time(str(v))
        except ValueError:
            problems.append(
                detail(
                    f,
                    "date_format",
                    f"{f} phải có dạng yyyyMMddHHmmss (giờ Việt Nam)",
                    f"{f} must be yyyyMMddHHmmss (Vietnam time)",
                )
            )
    return problems


#: Dates that cannot come after one another: (earlier, later).
DATE_ORDER = (
    ("NgayNopHoSo", "NgayTiepNhan"),
    ("NgayTiepNhan", "NgayHenTra"),
    ("NgayTiepNhan", "NgayKetThucXuLy"),
    ("NgayKetThucXuLy", "NgayTra"),
)


def _date_order(d: DossierDraft) -> Problems:
    t = d.times
    return [
        detail(later, "date_order", f"{earlier} phải trước hoặc bằng {later}", f"{earlier} must not be after {later}")
        for earlier, later in DATE_ORDER
        if earlier in t and later in t and t[earlier] > t[later]
    ]


# The owner and how to reach them.


def _owner_cccd(d: DossierDraft) -> Problems:
    """A citizen owner's identification number passes the CCCD rules."""
    number = d.record.get("SoGiayToChuHoSo")
    if not d.owner_is_citizen or not _filled(number):
        return []
    return [
        detail("SoGiayToChuHoSo", f"cccd_{issue.rule}", issue.message_vi, issue.message_en)
        for issue in cccd.problems(number.strip())
    ]


def _email(d: DossierDraft) -> Problems:
    email = d.record.get("Email")
    if _filled(email) and not EMAIL_RE.match(email.strip()):
        return [detail("Email", "format", "Email không đúng định dạng", "Email is malformed")]
    return []


def _phone(d: DossierDraft) -> Problems:
    phone = d.record.get("SoDienThoai")
    if _filled(phone) and not PHONE_RE.match(phone.strip().replace(" ", "")):
        return [
            detail(
                "SoDienThoai",
                "format",
                "Số điện thoại phải gồm 10–11 chữ số, bắt đầu bằng 0 hoặc +84",
                "Phone number must be 10–11 digits starting with 0 or +84",
            )
        ]
    return []


# Fees.


def _fee_amounts(d: DossierDraft) -> Problems:
    """Each listed fee's MucPhi is a non-negative integer (VNĐ). An absent or empty list is
    allowed: it is what indicator 3.5 of the 766 scorecard measures."""
    fees = d.record.get("DanhSachLePhi")
    if not isinstance(fees, list):
        return []
    return [
        detail(
            f"DanhSachLePhi[{i}].MucPhi",
            "amount",
            "MucPhi phải là số nguyên không âm (VNĐ)",
            "MucPhi must be a non-negative integer (VNĐ)",
        )
        for i, item in enumerate(fees)
        if _fee_amount(item) is None
    ]


def _fee_amount(item: Mapping[str, Any]) -> int | None:
    amount = as_int(item.get("MucPhi"))
    return None if amount is None or amount < 0 else amount


def _fee_schedule(d: DossierDraft) -> Problems:
    """The fees' total is the catalogue's amount for the procedure and channel: a problem
    with ``fee_check`` strict, a warning with ``warn``, not checked with ``off``."""
    fees = d.record.get("DanhSachLePhi")
    proc = d.procedure
    if not isinstance(fees, list) or not fees or proc is None or d.fee_check == "off":
        return []
    amounts = [_fee_amount(item) for item in fees]
    expected = proc.fee.amount(int(d.channel))
    total = sum(a for a in amounts if a is not None)
    if None in amounts or expected is None or total == expected:
        return []
    mismatch = detail(
        "DanhSachLePhi",
        "fee_schedule",
        f"Tổng phí, lệ phí {total} VNĐ khác mức trong danh mục {expected} VNĐ (thủ tục {proc.code}, kênh {d.channel})",
        f"Fees total {total} VNĐ but the catalogue says {expected} VNĐ (procedure {proc.code}, channel {d.channel})",
    )
    if d.fee_check == "strict":
        return [mismatch]
    d.warnings.append(mismatch)
    return []


#: The rules of a DongBoHoSoMC record, in the order they run (and report): each returns its
#: problems; the type rules normalise the record for the rules after them.
DOSSIER_RULES: tuple[Callable[[DossierDraft], Problems], ...] = (
    _text_types,
    _enum_values,
    _list_types,
    _required_in_every_dossier,
    _required_once_received,
    _required_once_finished,
    _required_citizen_number,
    _required_online,
    _required_postal,
    _ma_ho_so,
    _procedure,
    _date_formats,
    _date_order,
    _owner_cccd,
    _email,
    _phone,
    _fee_amounts,
    _fee_schedule,
)


def check_dossier(
    raw: Mapping[str, Any],
    unit_codes: frozenset[str],
    fee_check: str = "strict",
) -> Checked:
    """Validate one DongBoHoSoMC record for a sender who may sync for ``unit_codes``."""
    draft = DossierDraft(dict(raw), unit_codes, fee_check)
    for rule in DOSSIER_RULES:
        draft.problems += rule(draft)
    return Checked(draft.record, draft.problems, draft.times, draft.warnings)


PROGRESS_TEXT = ("MaHoSo", "NguoiXuLy", "ChucDanh", "PhongBanXuLy", "NoiDungXuLy", "IdempotencyKey")


def check_progress(raw: Mapping[str, Any]) -> Checked:
    """Validate one CapNhatTienDoHoSoMC record (the dossier's existence is checked later)."""
    rec = dict(raw)
    times: dict[str, datetime] = {}
    problems = _progress_text_types(rec) + _progress_required(rec) + _progress_dates(rec, times)
    return Checked(rec, problems, times, [])


def _progress_text_types(rec: dict[str, Any]) -> Problems:
    problems = []
    for f in PROGRESS_TEXT:
        if f in rec and rec[f] is not None and not isinstance(rec[f], str):
            problems.append(detail(f, "type", f"{f} phải là chuỗi ký tự", f"{f} must be a string"))
            rec[f] = None
    return problems


def _progress_required(rec: dict[str, Any]) -> Problems:
    """MaHoSo, NguoiXuLy, ThoiDiemXuLy and TrangThai (a status 1–10, stored as a number)."""
    problems = [
        _required(f, "mọi bản ghi tiến độ", "every progress record")
        for f in ("MaHoSo", "NguoiXuLy", "ThoiDiemXuLy")
        if _missing(rec.get(f))
    ]
    if _missing(rec.get("TrangThai")):
        return [*problems, _required("TrangThai", "mọi bản ghi tiến độ", "every progress record")]
    n = as_int(rec["TrangThai"])
    if n is None or n not in STATUS_NAMES:
        return [*problems, detail("TrangThai", "enum", "TrangThai phải từ 1 đến 10", "TrangThai must be 1–10")]
    rec["TrangThai"] = n
    return problems


def _progress_dates(rec: dict[str, Any], times: dict[str, datetime]) -> Problems:
    """The dates' format (parsed ones kept in ``times``), then NgayBatDau ≤ NgayKetThucTheoQuyDinh."""
    problems = []
    for f in ("ThoiDiemXuLy", "NgayBatDau", "NgayKetThucTheoQuyDinh"):
        v = rec.get(f)
        if _missing(v):
            continue
        try:
            times[f] = parse_wire_time(str(v))
        except ValueError:
            problems.append(detail(f, "date_format", f"{f} phải có dạng yyyyMMddHHmmss", f"{f} must be yyyyMMddHHmmss"))
    start, end = times.get("NgayBatDau"), times.get("NgayKetThucTheoQuyDinh")
    if start is not None and end is not None and start > end:
        problems.append(
            detail(
                "NgayKetThucTheoQuyDinh",
                "date_order",
                "NgayBatDau phải trước hoặc bằng NgayKetThucTheoQuyDinh",
                "NgayBatDau must not be after NgayKetThucTheoQuyDinh",
            )
        )
    return problems

"""Rules of the portal: wire times, the status machine, and record validation.

Pure functions over wire dicts (no database, no HTTP): what the service layer applies,
and what the tests specify one rule at a time. Every refusal is a
:func:`services.dossier.errors.detail` naming the field and the rule in both languages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.dossier.errors import detail
from vnsandbox.vn import catalogue, cccd
from vnsandbox.vn.wiretime import VN_TZ, format_wire_time
from vnsandbox.vn.wiretime import parse_wire_time as parse_vn_time

_VN_OFFSET = VN_TZ.utcoffset(None)

STATUS_NAMES: dict[int, str] = {
    1: "Mới đăng ký",
    2: "Được tiếp nhận",
    3: "Không được tiếp nhận",
    4: "Đang xử lý",
    5: "Yêu cầu bổ sung giấy tờ",
    6: "Yêu cầu thực hiện nghĩa vụ tài chính",
    7: "Công dân yêu cầu rút hồ sơ",
    8: "Dừng xử lý",
    9: "Đã xử lý xong",
    10: "Đã trả kết quả",
}
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


def to_wire_time(value: datetime | None) -> str | None:
    """Naive-UTC (as stored) or aware datetime → ``yyyyMMddHHmmss`` in Vietnam time."""
    return None if value is None else format_wire_time(value)


def parse_wire_time(value: str) -> datetime:
    """``yyyyMMddHHmmss`` in Vietnam time → naive UTC, as dossiers are stored (``ValueError`` if malformed)."""
    return (parse_vn_time(value) - _VN_OFFSET).replace(tzinfo=None)


def parse_period_bound(value: str, end: bool) -> datetime:
    """``yyyyMMdd`` or ``yyyyMMddHHmmss`` → naive UTC; a bare day covers the whole day."""
    if re.fullmatch(r"\d{8}", value):
        value = value + ("235959" if end else "000000")
    return parse_wire_time(value)


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


# --------------------------------------------------------------------------- records

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


#: Largest magnitude of an integer the sync API reads (2^53: exact in every JSON parser);
#: beyond it a number is not an integer for any field, so no field can overflow a column.
WIRE_INT_MAX = 2**53


def as_int(value: Any) -> int | None:
    """Integers arrive as numbers (up to ±2^53) or as digit strings (up to 9 digits) in
    provincial data; both are accepted."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -WIRE_INT_MAX <= value <= WIRE_INT_MAX else None
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,9}", value.strip()):
        return int(value.strip())
    return None


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _required(field: str, why_vi: str, why_en: str) -> dict[str, str]:
    return detail(field, "required", f"Thiếu trường bắt buộc {field} ({why_vi})", f"{field} is required ({why_en})")


def check_dossier(
    raw: Mapping[str, Any],
    unit_codes: frozenset[str],
    fee_check: str = "strict",
) -> Checked:
    """Validate one DongBoHoSoMC record for a sender who may sync for ``unit_codes``."""
    rec = dict(raw)
    problems: list[dict[str, str]] = []
    warnings: list[dict[str, str]] = []
    times: dict[str, datetime] = {}

    for f in TEXT_FIELDS:
        if f in rec and rec[f] is not None and not isinstance(rec[f], str):
            problems.append(detail(f, "type", f"{f} phải là chuỗi ký tự", f"{f} must be a string"))
            rec[f] = None
    for f, allowed_values in ENUMS.items():
        if f in rec and rec[f] is not None and rec[f] != "":
            n = as_int(rec[f])
            if n is None or n not in allowed_values:
                problems.append(
                    detail(
                        f,
                        "enum",
                        f"{f} phải là một trong {list(allowed_values)}",
                        f"{f} must be one of {list(allowed_values)}",
                    )
                )
                rec[f] = None
            else:
                rec[f] = n
    for f in LIST_FIELDS:
        if (
            f in rec
            and rec[f] is not None
            and (not isinstance(rec[f], list) or not all(isinstance(x, dict) for x in rec[f]))
        ):
            problems.append(detail(f, "type", f"{f} phải là danh sách đối tượng", f"{f} must be a list of objects"))
            rec[f] = None

    status = rec.get("TrangThaiHoSo")
    channel = rec.get("KenhThucHien") or 1
    owner_kind = rec.get("LoaiDoiTuong") or 1

    # Required fields, by channel and status.
    for f in ("MaHoSo", "MaTTHC", "ChuHoSo"):
        if _missing(rec.get(f)):
            problems.append(_required(f, "mọi hồ sơ", "every dossier"))
    if status is None and "TrangThaiHoSo" not in {p["field"] for p in problems}:
        problems.append(_required("TrangThaiHoSo", "mọi hồ sơ", "every dossier"))
    if status not in (1, 3, None):
        for f in ("NgayTiepNhan", "NgayHenTra"):
            if _missing(rec.get(f)):
                problems.append(_required(f, "hồ sơ đã tiếp nhận", "received dossiers"))
    if status in (9, 10) and _missing(rec.get("NgayKetThucXuLy")):
        problems.append(_required("NgayKetThucXuLy", "hồ sơ đã xử lý xong", "finished dossiers"))
    if owner_kind == 1 and _missing(rec.get("SoGiayToChuHoSo")):
        problems.append(_required("SoGiayToChuHoSo", "chủ hồ sơ là công dân", "the owner is a citizen"))
    if channel == 2:
        if _missing(rec.get("SoDienThoai")) and _missing(rec.get("Email")):
            problems.append(
                detail(
                    "SoDienThoai",
                    "required",
                    "Hồ sơ trực tuyến cần số điện thoại hoặc email của chủ hồ sơ",
                    "Online dossiers need the owner's phone number or email",
                )
            )
        if rec.get("TaiKhoanDuocXacThucVoiVNeID") is None:
            problems.append(_required("TaiKhoanDuocXacThucVoiVNeID", "hồ sơ trực tuyến", "online dossiers"))
    if channel == 3 and _missing(rec.get("DiaChiChuHoSo")):
        problems.append(_required("DiaChiChuHoSo", "nộp qua bưu chính", "postal dossiers"))

    # MaHoSo: unit code – yyMMdd – 5 digits, unit prefix of the sender.
    code = rec.get("MaHoSo")
    if isinstance(code, str) and code.strip():
        m = MA_HO_SO_RE.match(code)
        if not m:
            problems.append(
                detail(
                    "MaHoSo",
                    "format",
                    "MaHoSo phải có dạng <mã đơn vị>-<yyMMdd>-<5 chữ số>, ví dụ 000.00.01.H22-240915-12345",
                    "MaHoSo must be <unit code>-<yyMMdd>-<5 digits>, e.g. 000.00.01.H22-240915-12345",
                )
            )
        else:
            try:
                day = m["day"]
                datetime(2000 + int(day[:2]), int(day[2:4]), int(day[4:6]))
            except ValueError:
                problems.append(
                    detail(
                        "MaHoSo",
                        "format_date",
                        f"Phần ngày {m['day']} trong MaHoSo không phải ngày hợp lệ (yyMMdd)",
                        f"The date part {m['day']} of MaHoSo is not a valid yyMMdd date",
                    )
                )
            if m["unit"] not in unit_codes:
                problems.append(
                    detail(
                        "MaHoSo",
                        "unit_prefix",
                        f"Mã đơn vị {m['unit']} trong MaHoSo không phải đơn vị gửi hoặc đơn vị trực thuộc",
                        f"Unit code {m['unit']} in MaHoSo is not the sending unit or one of its sub-units",
                    )
                )

    # Procedure from the catalogue.
    proc = None
    code_tthc = rec.get("MaTTHC")
    if isinstance(code_tthc, str) and code_tthc.strip():
        proc = catalogue.get(code_tthc.strip())
        if proc is None:
            problems.append(
                detail(
                    "MaTTHC",
                    "catalogue",
                    f"Mã thủ tục {code_tthc} không có trong danh mục TTHC",
                    f"Procedure code {code_tthc} is not in the procedure catalogue",
                )
            )

    # Dates: format, then order.
    for f in DATE_FIELDS:
        v = rec.get(f)
        if _missing(v):
            continue
        try:
            times[f] = parse_wire_time(str(v))
        except ValueError:
            problems.append(
                detail(
                    f,
                    "date_format",
                    f"{f} phải có dạng yyyyMMddHHmmss (giờ Việt Nam)",
                    f"{f} must be yyyyMMddHHmmss (Vietnam time)",
                )
            )
    order = [
        ("NgayNopHoSo", "NgayTiepNhan"),
        ("NgayTiepNhan", "NgayHenTra"),
        ("NgayTiepNhan", "NgayKetThucXuLy"),
        ("NgayKetThucXuLy", "NgayTra"),
    ]
    for earlier, later in order:
        if earlier in times and later in times and times[earlier] > times[later]:
            problems.append(
                detail(
                    later,
                    "date_order",
                    f"{earlier} phải trước hoặc bằng {later}",
                    f"{earlier} must not be after {later}",
                )
            )

    # Owner's identification number.
    number = rec.get("SoGiayToChuHoSo")
    if owner_kind == 1 and isinstance(number, str) and number.strip():
        for issue in cccd.problems(number.strip()):
            problems.append(detail("SoGiayToChuHoSo", f"cccd_{issue.rule}", issue.message_vi, issue.message_en))

    # Contact formats.
    email = rec.get("Email")
    if isinstance(email, str) and email.strip() and not EMAIL_RE.match(email.strip()):
        problems.append(detail("Email", "format", "Email không đúng định dạng", "Email is malformed"))
    phone = rec.get("SoDienThoai")
    if isinstance(phone, str) and phone.strip() and not PHONE_RE.match(phone.strip().replace(" ", "")):
        problems.append(
            detail(
                "SoDienThoai",
                "format",
                "Số điện thoại phải gồm 10–11 chữ số, bắt đầu bằng 0 hoặc +84",
                "Phone number must be 10–11 digits starting with 0 or +84",
            )
        )

    # Fees against the catalogue, when the record carries fee data (an absent or empty list
    # is allowed: it is what indicator 3.5 of the 766 scorecard measures).
    fees = rec.get("DanhSachLePhi")
    if isinstance(fees, list) and fees:
        total = 0
        amounts_ok = True
        for i, item in enumerate(fees):
            amount = as_int(item.get("MucPhi"))
            if amount is None or amount < 0:
                amounts_ok = False
                problems.append(
                    detail(
                        f"DanhSachLePhi[{i}].MucPhi",
                        "amount",
                        "MucPhi phải là số nguyên không âm (VNĐ)",
                        "MucPhi must be a non-negative integer (VNĐ)",
                    )
                )
            else:
                total += amount
        if amounts_ok and proc is not None and fee_check != "off":
            expected = proc.fee.amount(int(channel))
            if expected is not None and total != expected:
                mismatch = detail(
                    "DanhSachLePhi",
                    "fee_schedule",
                    f"Tổng phí, lệ phí {total} VNĐ khác mức trong danh mục {expected} VNĐ "
                    f"(thủ tục {proc.code}, kênh {channel})",
                    f"Fees total {total} VNĐ but the catalogue says {expected} VNĐ "
                    f"(procedure {proc.code}, channel {channel})",
                )
                (problems if fee_check == "strict" else warnings).append(mismatch)
    return Checked(rec, problems, times, warnings)


PROGRESS_TEXT = ("MaHoSo", "NguoiXuLy", "ChucDanh", "PhongBanXuLy", "NoiDungXuLy", "IdempotencyKey")


def check_progress(raw: Mapping[str, Any]) -> Checked:
    """Validate one CapNhatTienDoHoSoMC record (the dossier's existence is checked later)."""
    rec = dict(raw)
    problems: list[dict[str, str]] = []
    times: dict[str, datetime] = {}
    for f in PROGRESS_TEXT:
        if f in rec and rec[f] is not None and not isinstance(rec[f], str):
            problems.append(detail(f, "type", f"{f} phải là chuỗi ký tự", f"{f} must be a string"))
            rec[f] = None
    for f in ("MaHoSo", "NguoiXuLy", "ThoiDiemXuLy"):
        if _missing(rec.get(f)):
            problems.append(_required(f, "mọi bản ghi tiến độ", "every progress record"))
    if _missing(rec.get("TrangThai")):
        problems.append(_required("TrangThai", "mọi bản ghi tiến độ", "every progress record"))
    else:
        n = as_int(rec["TrangThai"])
        if n is None or n not in STATUS_NAMES:
            problems.append(detail("TrangThai", "enum", "TrangThai phải từ 1 đến 10", "TrangThai must be 1–10"))
        else:
            rec["TrangThai"] = n
    for f in ("ThoiDiemXuLy", "NgayBatDau", "NgayKetThucTheoQuyDinh"):
        v = rec.get(f)
        if _missing(v):
            continue
        try:
            times[f] = parse_wire_time(str(v))
        except ValueError:
            problems.append(detail(f, "date_format", f"{f} phải có dạng yyyyMMddHHmmss", f"{f} must be yyyyMMddHHmmss"))
    if (
        "NgayBatDau" in times
        and "NgayKetThucTheoQuyDinh" in times
        and times["NgayBatDau"] > times["NgayKetThucTheoQuyDinh"]
    ):
        problems.append(
            detail(
                "NgayKetThucTheoQuyDinh",
                "date_order",
                "NgayBatDau phải trước hoặc bằng NgayKetThucTheoQuyDinh",
                "NgayBatDau must not be after NgayKetThucTheoQuyDinh",
            )
        )
    return Checked(rec, problems, times, [])


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
    local = (latest + _VN_OFFSET).date()
    code = rec.get("MaHoSo")
    m = MA_HO_SO_RE.match(code) if isinstance(code, str) else None
    if m is not None:
        day = m["day"]
        try:
            filed = datetime(2000 + int(day[:2]), int(day[2:4]), int(day[4:6])).date()
        except ValueError:
            filed = None  # refused by the format rule
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

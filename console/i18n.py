"""Vietnamese first, English as a secondary toggle; times in the Vietnamese format.

Templates write their text in Vietnamese and pass it through ``t`` (``{{ t("Nhật ký") }}``);
with English chosen, :data:`EN` gives the English text (a missing entry stays Vietnamese, so
nothing ever shows a key). Times are shown as ``dd/MM/yyyy HH:mm`` in Vietnam's time zone
(UTC+7, no daylight saving).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Literal

Lang = Literal["vi", "en"]
VN_TZ = timezone(timedelta(hours=7), "ICT")

EN: dict[str, str] = {
    "Bảng điều khiển huấn luyện": "Training console",
    "Môi trường thử nghiệm — dữ liệu tổng hợp, không có dữ liệu công dân thật": (
        "Sandbox — synthetic data, no real citizens' data"
    ),
    "Tenant của bạn": "Your tenants",
    "Tạo tenant mới": "Create a new tenant",
    "Tạo tenant": "Create tenant",
    "Mô tả (không bắt buộc)": "Description (optional)",
    "Đăng nhập tenant đã có": "Sign in to an existing tenant",
    "Đăng nhập": "Sign in",
    "Đăng xuất": "Sign out",
    "Mã ứng dụng (client_id)": "Client id (client_id)",
    "Khóa bí mật (client_secret)": "Client secret (client_secret)",
    "Mở": "Open",
    "Chưa có tenant nào trong phiên này.": "No tenant in this session yet.",
    "Tenant mặc định (chế độ nhúng, không cần đăng nhập)": "Default tenant (embedded mode, no sign-in)",
    "Thông tin đăng nhập của tenant (chỉ hiện một lần, hãy lưu lại):": (
        "The tenant's credentials (shown once, keep them):"
    ),
    "Nhật ký": "Journal",
    "Sơ đồ luồng thông điệp": "Message sequence diagram",
    "Lần gửi": "Deliveries",
    "Sự cố và công tắc": "Faults and switches",
    "Gỡ lỗi token": "Token debugger",
    "Giờ thử nghiệm": "Test clock",
    "+1 giờ": "+1 hour",
    "+1 ngày": "+1 day",
    "Về giờ thực": "Back to real time",
    "lệch": "offset",
    "Tự động cập nhật": "Live update",
    "Làm mới": "Refresh",
    "Chưa có lời gọi nào.": "No calls yet.",
    "Tỉnh (hệ thống một cửa)": "Province (one-stop system)",
    "Cổng kết nối (LGSP)": "Gateway (LGSP)",
    "Yêu cầu": "Request",
    "Phản hồi": "Reply",
    "Thời gian": "Time",
    "Trạng thái": "Status",
    "Số lần thử": "Attempts",
    "Gửi lại": "Redeliver",
    "Loại": "Kind",
    "Địa chỉ nhận": "Target",
    "Mã tham chiếu": "Reference",
    "Nội dung": "Payload",
    "Chưa có lần gửi nào.": "No deliveries yet.",
    "Tình huống sự cố": "Fault scenarios",
    "Bật": "On",
    "Tắt": "Off",
    "Đang bật": "On",
    "Đang tắt": "Off",
    "Luật sự cố đang áp dụng": "Active fault rules",
    "Xóa": "Remove",
    "Công tắc của từng nền tảng": "Each platform's switches",
    "Dán token (JWT)": "Paste a token (JWT)",
    "Kiểm tra": "Check",
    "Tiêu đề": "Header",
    "Nội dung (claims)": "Claims",
    "Chữ ký": "Signature",
    "Hạn dùng": "Expiry",
    "Chữ ký hợp lệ": "Signature valid",
    "Chữ ký không hợp lệ": "Signature invalid",
    "Còn hạn": "Not expired",
    "Đã hết hạn": "Expired",
    "theo giờ thử nghiệm của tenant": "on the tenant's test clock",
    "Ngôn ngữ": "Language",
    "Không thực hiện được": "Could not be done",
    "đã gửi": "delivered",
    "đang chờ": "pending",
    "đang gửi": "delivering",
    "thất bại": "dead",
    "Lỗi": "Error",
    "Đăng nhập người vận hành": "Operator sign-in",
    "Nhập thông tin đăng nhập của tenant (client_id và client_secret nhận khi tạo tenant).": (
        "Enter the tenant's credentials (the client_id and client_secret given when the tenant was created)."
    ),
    "Ẩn lệnh điều khiển (/_sandbox)": "Hide control calls (/_sandbox)",
    "Sự cố": "Fault",
    "Bộ chỉ số 766": "Scorecard 766",
    "Đơn vị": "Unit",
    "Số hồ sơ": "Dossiers",
    "Tổng điểm": "Total marks",
    "Tính lúc": "Computed at",
    "Tải CSV": "Download CSV",
    "In / lưu PDF": "Print / save as PDF",
    "Tải PDF": "Download PDF",
    "Theo tháng": "By month",
    "theo tháng": "by month",
    "Mỗi tháng là một lần tính bảng điểm (TuNgay–DenNgay) theo giờ thử nghiệm; tối đa 12 tháng.": (
        "Each month is one computation of the scorecard (TuNgay–DenNgay) on the test clock; at most 12 months."
    ),
    "Từ tháng": "From month",
    "Đến tháng": "To month",
    "Xem": "Show",
    "6 tháng gần nhất": "Last 6 months",
    "Bảng số liệu theo tháng": "Figures by month",
    "Chưa có số liệu trong các tháng này": "No figures in these months",
    "Tháng": "Month",
    "Chỉ số": "Indicator",
    "Tên chỉ số": "Indicator",
    "Tử số / mẫu số": "Numerator / denominator",
    "Tỷ lệ": "Rate",
    "ngày": "days",
    "hồ sơ": "dossiers",
    "không đọc được bảng điểm của tháng này": "this month's scorecard could not be read",
    "BỘ CHỈ SỐ 766 — ĐÁNH GIÁ CHẤT LƯỢNG PHỤC VỤ": "SCORECARD 766 — QUALITY OF SERVICE",
    "Xuất lúc (giờ thử nghiệm)": "Exported at (test clock)",
    "Số ngày trung bình": "Average days",
    "Điểm": "Marks",
    "Hồ sơ kéo giảm": "Dossiers pulling it down",
    "Kịch bản huấn luyện": "Training scenarios",
    "Khai sinh trực tuyến có thanh toán": "Online birth certificate with payment",
    "Tải kịch bản vào tenant mới": "Load into a fresh tenant",
    "Tất cả kịch bản": "All scenarios",
    "Trình chiếu": "Presenter",
    "Bước": "Step",
    "Bước trước": "Previous step",
    "Bước tiếp theo": "Next step",
    "Công dân": "Citizen",
    "Tỉnh": "Province",
    "Người vận hành": "Operator",
    "Mở trong tab mới": "Open in a new tab",
    "Thực hiện bước của tỉnh": "Send the province's step",
    "Làm trên bàn làm việc một cửa": "Do it on the officer's one-stop desk",
    "Đã gửi bước của tỉnh.": "The province's step was sent.",
    "Thực hiện bước của người vận hành": "Do the operator's step",
    "Đã thực hiện bước của người vận hành.": "The operator's step was done.",
    "Thanh toán": "Payments",
    "Lần thanh toán gần nhất không thành công": "The last payment did not go through",
    "mã": "code",
    "Bạn có thể thanh toán lại.": "You may pay again.",
    "Hồ sơ hiện tại": "Current dossier",
    "Chưa có hồ sơ nào được nộp.": "No dossier filed yet.",
    "Cổng công dân": "Citizen portal",
    "Cổng Dịch vụ công": "Public services portal",
    "Đăng nhập bằng VNeID": "Log in with VNeID",
    "Xin chào": "Hello",
    "Tìm thủ tục hành chính": "Find a procedure",
    "Tìm": "Search",
    "Hồ sơ của tôi": "My dossiers",
    "Nộp hồ sơ": "File a dossier",
    "Chưa có hồ sơ nào.": "No dossiers yet.",
    "Lệ phí trực tuyến": "Online fee",
    "Miễn phí": "Free",
    "Không cố định (tỉnh quy định)": "Variable (set by the province)",
    "Lĩnh vực": "Field",
    "Họ và tên": "Full name",
    "Số định danh cá nhân": "Personal identification number",
    "Số điện thoại": "Phone",
    "Địa chỉ": "Address",
    "Trích yếu hồ sơ": "Summary",
    "Tài liệu đính kèm": "Attachments",
    "Mã hồ sơ": "Dossier code",
    "Thủ tục": "Procedure",
    "Ngày nộp": "Filed",
    "Ngày hẹn trả": "Due",
    "Quá trình xử lý": "History",
    "Rút hồ sơ": "Withdraw the dossier",
    "Lý do": "Reason",
    "Bổ sung giấy tờ": "Send the requested documents",
    "Gửi bổ sung": "Send",
    "Thanh toán qua PayGov": "Pay with PayGov",
    "Kết quả": "Result",
    "Lệ phí": "Fees",
    "Không tìm thấy thủ tục nào.": "No procedure found.",
    "Hồ sơ chưa được gửi": "The dossier was not filed",
    "Không đọc được công tắc": "The switches could not be read",
    "Về danh sách tenant": "Back to the tenants",
}


def translator(lang: Lang) -> Callable[[str], str]:
    if lang == "en":
        return lambda text: EN.get(text, text)
    return lambda text: text


def as_datetime(value: str | float | None) -> datetime | None:
    """An ISO-8601 string (``Z`` or an offset; naive means UTC) or an epoch number."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), UTC)
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def vn_time(value: str | float | datetime | None, seconds: bool = False) -> str:
    """``dd/MM/yyyy HH:mm`` (``:ss`` with ``seconds``) in Vietnam's time zone; empty for no time."""
    when = value if isinstance(value, datetime) else as_datetime(value)
    if when is None:
        return ""
    return when.astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M:%S" if seconds else "%d/%m/%Y %H:%M")


def wire_time(value: object) -> str:
    """A DVCQG wire time (``yyyyMMddHHmmss``, Vietnam time) as ``dd/MM/yyyy HH:mm``."""
    text = str(value or "")
    if len(text) < 12 or not text[:12].isdigit():
        return text
    return f"{text[6:8]}/{text[4:6]}/{text[0:4]} {text[8:10]}:{text[10:12]}"


def offset_words(seconds: float, lang: Lang) -> str:
    """A clock offset as ``+1 ngày 2 giờ`` (``+1 day 2 h``); empty for none."""
    total = round(seconds)
    if total == 0:
        return ""
    sign = "+" if total > 0 else "−"
    days, rest = divmod(abs(total), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    units = ("ngày", "giờ", "phút") if lang == "vi" else ("d", "h", "min")
    parts = [f"{n} {u}" for n, u in zip((days, hours, minutes), units, strict=True) if n]
    return sign + " ".join(parts or ["<1 " + units[2]])

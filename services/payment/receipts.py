"""The receipt (biên lai điện tử) as PDF, drawn with fpdf2 and the bundled DejaVu Sans.

The font ships with the foundation (``vnsandbox/assets/DejaVuSans.ttf``, Bitstream Vera
licence beside it, :mod:`vnsandbox.pdf`) so Vietnamese diacritics render on a machine without
system fonts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vnsandbox.pdf import pdf_text as _t


def _money(amount: Any) -> str:
    try:
        return f"{int(amount):,}".replace(",", ".") + " đ"
    except (TypeError, ValueError):
        return _t(amount)


def _wire_date(value: str) -> str:
    if len(value) != 14:
        return value
    return f"{value[6:8]}/{value[4:6]}/{value[0:4]} {value[8:10]}:{value[10:12]}:{value[12:14]}"


def receipt_pdf(data: dict[str, Any], font_file: Path) -> bytes:
    """Render the receipt JSON (see ``reports.receipt_of``) as a one-page PDF."""
    from fpdf import FPDF  # imported with the first receipt: it takes longer to import than the service to start

    pdf = FPDF(format="A4")
    pdf.set_title(_t("Biên lai " + str(data["SoBienLai"])))
    pdf.set_author("PayGov sandbox")
    pdf.add_font("DejaVu", "", str(font_file))
    pdf.add_page()
    pdf.set_font("DejaVu", size=10)
    pdf.cell(0, 6, _t("NỀN TẢNG THANH TOÁN TRỰC TUYẾN - CỔNG DỊCH VỤ CÔNG QUỐC GIA"), new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 6, _t("(Môi trường thử nghiệm - không có giá trị pháp lý)"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("DejaVu", size=16)
    pdf.cell(0, 10, _t("BIÊN LAI THU PHÍ, LỆ PHÍ"), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", size=10)
    pdf.cell(
        0,
        6,
        _t(f"Mẫu số: {data['MauSoBienLai']}    Số: {data['SoBienLai']}"),
        align="C",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(4)
    pdf.set_font("DejaVu", size=11)
    lines = [
        ("Họ tên người nộp", data.get("HoTenNguoiNop")),
        ("Số định danh/CMND", data.get("SoCMNDNguoiNop")),
        ("Địa chỉ", data.get("DiaChiNguoiNop")),
        ("Thủ tục hành chính", " - ".join(_t(v) for v in (data.get("MaTTHC"), data.get("TenTTHC")) if v)),
        ("Mã hồ sơ", data.get("MaHoSo")),
        ("Đơn vị", data.get("MaDonVi")),
        ("Nội dung", data.get("ThongTinGiaoDich")),
        ("Mã giao dịch", data.get("MaGiaoDich")),
        ("Mã tham chiếu", data.get("MaThamChieu")),
        ("Ngân hàng/ví", " - ".join(_t(v) for v in (data.get("MaNganHang"), data.get("TenNganHang")) if v)),
        ("Thời gian thanh toán", _wire_date(str(data.get("NgayThanhToan") or ""))),
    ]
    for label, value in lines:
        if value:
            pdf.cell(55, 7, _t(label + ":"))
            pdf.multi_cell(0, 7, _t(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("DejaVu", size=10)
    widths = (12, 118, 50)
    for w, head in zip(widths, ("STT", "Khoản phí, lệ phí", "Số tiền"), strict=True):
        pdf.cell(w, 8, _t(head), border=1, align="C")
    pdf.ln()
    for i, fee in enumerate(data.get("PhiLePhi") or [], start=1):
        pdf.cell(widths[0], 8, str(i), border=1, align="C")
        pdf.cell(widths[1], 8, _t(fee.get("TenPhiLePhi"))[:70], border=1)
        pdf.cell(widths[2], 8, _money(fee.get("SoTien")), border=1, align="R")
        pdf.ln()
    pdf.cell(widths[0] + widths[1], 8, _t("Tổng cộng"), border=1, align="R")
    pdf.cell(widths[2], 8, _money(data.get("SoTien")), border=1, align="R")
    pdf.ln()
    if data.get("SoTienBangChu"):
        pdf.multi_cell(0, 8, _t("Bằng chữ: " + str(data["SoTienBangChu"])), new_x="LMARGIN", new_y="NEXT")
    if data.get("SoTienDaHoan"):
        pdf.cell(widths[0] + widths[1], 8, _t("Đã hoàn trả"), border=1, align="R")
        pdf.cell(widths[2], 8, _money(data.get("SoTienDaHoan")), border=1, align="R")
        pdf.ln()
    return bytes(pdf.output())

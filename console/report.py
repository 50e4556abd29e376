"""The scorecard as a PDF (fpdf2, the bundled DejaVu Sans so Vietnamese renders anywhere): the
totals, each indicator with its numerator, denominator, rate and marks, 2.2 per procedure, and
every indicator month by month, as numbers and as bars.

fpdf2 is imported with the first PDF: it takes longer to import than the console to start.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from console.i18n import Lang, translator, vn_time, wire_time
from console.trend import Series
from vnsandbox.pdf import DEJAVU_SANS, pdf_text

FONT = "DejaVu"
#: Landscape A4: room for 12 months beside the indicator's name.
PAGE_W = 297 - 2 * 10
CODE_W, NAME_W = 12, 80


def _num(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def scorecard_pdf(
    data: dict[str, Any], trend: list[Series], *, tenant: str, unit: str, lang: Lang, now: datetime
) -> bytes:
    """The scorecard (``data``: DVCQG's ``/_sandbox/scorecard`` answer) and its months (``trend``)."""
    from fpdf import FPDF  # imported with the first PDF (see the module's note)

    t = translator(lang)
    pdf = FPDF(orientation="L", format="A4")
    pdf.set_margins(10, 10, 10)
    pdf.set_auto_page_break(True, 12)
    pdf.set_title(pdf_text(f"{t('Bộ chỉ số 766')} — {unit}"))
    pdf.set_author("vnsandbox")
    pdf.add_font(FONT, "", str(DEJAVU_SANS))
    pdf.add_page()

    def line(text: str, size: float = 10, h: float = 6, align: str = "L") -> None:
        pdf.set_font(FONT, size=size)
        pdf.multi_cell(0, h, pdf_text(text), align=align, new_x="LMARGIN", new_y="NEXT")

    line(t("Môi trường thử nghiệm — dữ liệu tổng hợp, không có dữ liệu công dân thật"), 8, 5)
    line(t("BỘ CHỈ SỐ 766 — ĐÁNH GIÁ CHẤT LƯỢNG PHỤC VỤ"), 16, 10, "C")
    line(
        f"{t('Đơn vị')}: {unit}   ·   Tenant: {tenant}   ·   {t('Số hồ sơ')}: {_num(data.get('SoHoSo'))}   ·   "
        f"{t('Tổng điểm')}: {_num(data.get('TongDiem'))}/{_num(data.get('TongDiemToiDa'))}"
    )
    line(
        f"{t('Tính lúc')} {wire_time(data.get('ThoiDiemTinh'))}   ·   {t('Xuất lúc (giờ thử nghiệm)')} {vn_time(now)}",
        9,
    )
    pdf.ln(3)

    # Each indicator: numerator / denominator = rate, marks, and the rate as a bar.
    pdf.set_font(FONT, size=9)
    heads = [(t("Chỉ số"), CODE_W), (t("Tên chỉ số"), NAME_W + 40), (t("Tử số / mẫu số"), 30)]
    heads += [(t("Tỷ lệ"), 20), (t("Điểm"), 25), ("", PAGE_W - CODE_W - NAME_W - 40 - 30 - 20 - 25)]
    for text, w in heads:
        pdf.cell(w, 7, pdf_text(text), border="B")
    pdf.ln(7)
    for ind in data.get("ChiSo", []):
        code = str(ind.get("ChiSo"))
        if "TheoThuTuc" in ind:
            pdf.cell(CODE_W, 6, code)
            pdf.cell(0, 6, pdf_text(ind.get("TenChiSo")), new_x="LMARGIN", new_y="NEXT")
            rows = sorted(
                ((c, v) for c, v in (ind.get("TheoThuTuc") or {}).items() if isinstance(v, dict)),
                key=lambda cv: -float(cv[1].get("ThoiGianTrungBinhNgay") or 0),
            )
            for proc, v in rows:
                pdf.cell(CODE_W, 5, "")
                name = f"{proc} {v.get('TenTTHC') or ''}"[:90]
                pdf.cell(NAME_W + 40, 5, pdf_text(name))
                pdf.cell(
                    0,
                    5,
                    pdf_text(
                        f"{_num(v.get('ThoiGianTrungBinhNgay'))} {t('ngày')} · {_num(v.get('SoHoSo'))} {t('hồ sơ')}"
                    ),
                    new_x="LMARGIN",
                    new_y="NEXT",
                )
            if not rows:
                pdf.cell(CODE_W, 5, "")
                pdf.cell(0, 5, "N/A", new_x="LMARGIN", new_y="NEXT")
            continue
        rate = ind.get("TyLe")
        pdf.cell(CODE_W, 6, code)
        pdf.cell(NAME_W + 40, 6, pdf_text(ind.get("TenChiSo")))
        pdf.cell(30, 6, f"{_num(ind.get('TuSo'))} / {_num(ind.get('MauSo'))}")
        pdf.cell(20, 6, f"{_num(rate)}%" if isinstance(rate, int | float) else _num(rate))
        pdf.cell(25, 6, f"{_num(ind.get('Diem'))} / {_num(ind.get('DiemToiDa'))}")
        bar_w = PAGE_W - CODE_W - NAME_W - 40 - 30 - 20 - 25 - 2
        x, y = pdf.get_x(), pdf.get_y()
        pdf.set_fill_color(229, 231, 235)
        pdf.rect(x, y + 1.5, bar_w, 3, style="F")
        if isinstance(rate, int | float):
            pdf.set_fill_color(21, 128, 61)
            pdf.rect(x, y + 1.5, bar_w * max(0.0, min(100.0, float(rate))) / 100, 3, style="F")
        pdf.ln(6)

    # Month by month.
    if trend and trend[0].points:
        pdf.ln(4)
        line(t("Theo tháng"), 12, 8)
        months = trend[0].points
        month_w = (PAGE_W - CODE_W - NAME_W) / len(months)
        pdf.set_font(FONT, size=8)
        pdf.cell(CODE_W, 6, pdf_text(t("Chỉ số")), border="B")
        pdf.cell(NAME_W, 6, pdf_text(t("Tên chỉ số")), border="B")
        for p in months:
            pdf.cell(month_w, 6, p.month.label, border="B", align="R")
        pdf.ln(6)
        for s in trend:
            name = s.name if len(s.name) <= 52 else s.name[:51] + "…"
            pdf.cell(CODE_W, 5, s.code)
            pdf.cell(NAME_W, 5, pdf_text(f"{name} ({'%' if s.unit == '%' else t('ngày')})"))
            for p in s.points:
                pdf.cell(month_w, 5, p.text, align="R")
            pdf.ln(5)
            # The series as bars under its numbers, each in its month's column.
            x0, y0, top = pdf.get_x() + CODE_W + NAME_W, pdf.get_y(), s.top
            pdf.set_fill_color(21, 128, 61)
            for i, p in enumerate(s.points):
                if p.value is not None and top:
                    fill = (month_w - 4) * max(0.0, min(1.0, p.value / top))
                    pdf.rect(x0 + i * month_w + month_w - 2 - fill, y0 + 0.5, fill, 2, style="F")
            pdf.ln(3.5)
    return bytes(pdf.output())

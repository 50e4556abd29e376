"""The scorecard dashboard month by month and as PDF, against a mock gateway: the months follow
the tenant's test clock, one DVCQG scorecard per month with ``TuNgay``/``DenNgay``, the charts
carry their numbers for screen readers, a bad range is a Vietnamese message (400), and the PDF
parses with the indicators and Vietnamese diacritics in its text."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from console.app import create_app
from console.settings import ConsoleSettings
from console.trend import MAX_MONTHS, BadRange, Month, last_months, month_range, series

#: 2026-03-31 20:00 UTC is already 1 April in Vietnam.
LATE_MARCH_UTC = datetime(2026, 3, 31, 20, 0, tzinfo=UTC)


def test_the_last_six_months_end_with_the_month_of_the_clock_in_vietnam_time() -> None:
    months = last_months(LATE_MARCH_UTC)
    assert [m.label for m in months] == ["11/2025", "12/2025", "01/2026", "02/2026", "03/2026", "04/2026"]
    assert (months[3].tu_ngay, months[3].den_ngay) == ("20260201", "20260228")
    assert Month(2024, 2).den_ngay == "20240229"


def test_a_range_is_inclusive_and_either_end_may_be_left_out() -> None:
    assert [m.value for m in month_range("2025-11", "2026-02", LATE_MARCH_UTC)] == [
        "2025-11",
        "2025-12",
        "2026-01",
        "2026-02",
    ]
    assert month_range("", "2026-02", LATE_MARCH_UTC)[0].value == "2025-09"
    assert len(month_range("2025-01", "", LATE_MARCH_UTC)) == 6
    assert [m.value for m in month_range("2026-03", "", LATE_MARCH_UTC)] == ["2026-03", "2026-04"]


@pytest.mark.parametrize(
    ("tu", "den", "vi"),
    [
        ("2026-13", "", "tháng dạng yyyy-MM"),
        ("2026-01", "26-02", "tháng dạng yyyy-MM"),
        ("2026-03", "2026-01", "Tháng cuối đứng trước tháng đầu"),
        ("2024-01", "2026-01", f"Tối đa {MAX_MONTHS} tháng"),
    ],
)
def test_a_bad_range_is_refused_in_vietnamese(tu: str, den: str, vi: str) -> None:
    with pytest.raises(BadRange) as caught:
        month_range(tu, den, LATE_MARCH_UTC)
    assert vi in caught.value.message_vi and caught.value.message_en


def _indicator(code: str, tu: int, mau: int) -> dict[str, Any]:
    rate: float | str = round(100 * tu / mau, 2) if mau else "N/A"
    return {"ChiSo": code, "TenChiSo": f"Chỉ số {code}", "TuSo": tu, "MauSo": mau, "TyLe": rate, "Diem": None}


def test_a_series_has_each_months_rate_and_2_2_its_average_days_weighted_by_dossiers() -> None:
    months = [Month(2026, 1), Month(2026, 2), Month(2026, 3)]
    two_two = {
        "ChiSo": "2.2",
        "TenChiSo": "Thời gian",
        "TheoThuTuc": {
            "1.001193": {"SoHoSo": 1, "ThoiGianTrungBinhNgay": 4.0},
            "2.000635": {"SoHoSo": 3, "ThoiGianTrungBinhNgay": 2.0},
        },
    }
    cards: list[dict[str, Any] | None] = [
        {"ChiSo": [_indicator("2.1", 3, 4), two_two]},
        None,
        {"ChiSo": [_indicator("2.1", 0, 0), {"ChiSo": "2.2", "TenChiSo": "Thời gian", "TheoThuTuc": {}}]},
    ]
    rate, days = series(months, cards)
    assert [p.text for p in rate.points] == ["75", "—", "N/A"]
    assert rate.points[0].tu_so == 3 and rate.points[0].mau_so == 4
    assert rate.summary() == "01/2026: 75%; 02/2026: —; 03/2026: N/A"
    assert [p.value for p in days.points] == [2.5, None, None] and days.unit == "ngày"
    assert [p.text for p in days.procedures["2.000635"]] == ["2", "—", "N/A"]
    bars = rate.bars()
    assert bars[0].h == pytest.approx(60.0) and bars[1].h == 0 and bars[0].y == pytest.approx(20.0)


class FakeGateway:
    """The gateway as the dashboard sees it: a test clock, and a DVCQG scorecard whose 2.1 is
    on time for ``month`` of 4 dossiers in each month (nothing before October 2025)."""

    def __init__(self, offset_s: float = 0.0, refuse: str = "") -> None:
        self.offset_s = offset_s
        self.refuse = refuse
        self.scorecards: list[dict[str, str]] = []

    def card(self, tu: str | None) -> dict[str, Any]:
        month = int(tu[4:6]) if tu and tu >= "20251001" else 0
        on_time = _indicator("2.1", min(month, 4), 4 if month else 0) | {"Diem": 1.0, "DiemToiDa": 2.0}
        return {
            "ThoiDiemTinh": "20260315103000",
            "SoHoSo": 4,
            "TongDiem": 1.0,
            "TongDiemToiDa": 2.0,
            "ChiSo": [
                on_time | {"TenChiSo": "Tỷ lệ hồ sơ giải quyết đúng hạn"},
                {
                    "ChiSo": "2.2",
                    "TenChiSo": "Thời gian giải quyết trung bình theo thủ tục",
                    "TheoThuTuc": {"2.000635": {"TenTTHC": "Cấp bản sao", "SoHoSo": 2, "ThoiGianTrungBinhNgay": 1.5}},
                },
            ],
        }

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/_sandbox/clock":
            return httpx.Response(200, json={"offset_seconds": self.offset_s})
        if request.url.path == "/dvcqg/v1/_sandbox/scorecard":
            params = dict(request.url.params)
            self.scorecards.append(params)
            if self.refuse and params.get("TuNgay") == self.refuse:
                return httpx.Response(503, json={"message": "DVCQG tạm ngừng", "message_en": "DVCQG paused"})
            return httpx.Response(200, json={"error_code": 0, "data": self.card(params.get("TuNgay"))})
        return httpx.Response(404, json={"message": "no"})


def _console(fake: FakeGateway) -> Iterator[TestClient]:
    settings = ConsoleSettings(
        mode="embedded", gateway_secret="a-shared-secret-long-enough-0123456789", gateway_url="http://gw"
    )
    with TestClient(create_app(settings, transport=httpx.MockTransport(fake.handle))) as client:
        yield client


@pytest.fixture
def fake() -> FakeGateway:
    # The test clock 400 days ahead of the wall clock: the months must follow it, not the wall.
    return FakeGateway(offset_s=400 * 86400.0, refuse="20260201")


@pytest.fixture
def console(fake: FakeGateway) -> Iterator[TestClient]:
    yield from _console(fake)


def test_the_dashboard_reads_one_scorecard_per_month_of_the_test_clock(console: TestClient, fake: FakeGateway) -> None:
    page = console.get("/console/t/default/chi-so")
    assert page.status_code == 200
    clock_now = datetime.now(UTC).timestamp() + fake.offset_s
    expected = last_months(datetime.fromtimestamp(clock_now, UTC))
    monthly = [s for s in fake.scorecards if "TuNgay" in s]
    assert [(s["TuNgay"], s["DenNgay"]) for s in monthly] == [(m.tu_ngay, m.den_ngay) for m in expected]
    assert all(s["MaDonVi"] == "000.00.01.H22" for s in fake.scorecards) and len(fake.scorecards) == 7
    assert f'value="{expected[-1].value}"' in page.text


def test_a_chosen_range_draws_each_month_with_its_numbers_in_the_label_and_the_table(
    console: TestClient, fake: FakeGateway
) -> None:
    page = console.get("/console/t/default/chi-so", params={"tu": "2025-11", "den": "2026-03"})
    assert page.status_code == 200
    label = 'aria-label="Chỉ số 2.1 theo tháng: 11/2025: 100%; 12/2025: 100%; 01/2026: 25%; 02/2026: —; 03/2026: 75%"'
    assert label in page.text
    assert "Chỉ số 2.2 theo tháng: 11/2025: 1.5 ngày" in page.text
    assert '<th scope="row">01/2026</th>' in page.text and "<td>1 / 4</td><td>25%</td>" in page.text
    assert page.text.count('<rect x="') == 8  # 4 months with a bar for 2.1, 4 for 2.2; February unread
    assert "không đọc được bảng điểm của tháng này" in page.text
    assert 'href="/console/t/default/chi-so/pdf?tu=2025-11&amp;den=2026-03"' in page.text


def test_a_range_beyond_twelve_months_is_a_vietnamese_message_not_an_error_page(
    console: TestClient, fake: FakeGateway
) -> None:
    page = console.get("/console/t/default/chi-so", params={"tu": "2024-01", "den": "2026-03"})
    assert page.status_code == 400
    assert "Tối đa 12 tháng một lần (INVALID_MONTH_RANGE)" in page.text
    assert len([s for s in fake.scorecards if "TuNgay" in s]) == 6  # the last 6 months instead
    console.cookies.set("vnsb_lang", "en", path="/console")
    page = console.get("/console/t/default/chi-so", params={"tu": "2026-3"})
    assert page.status_code == 400 and "a month as yyyy-MM" in page.text
    assert console.get("/console/t/default/chi-so/pdf", params={"den": "x" * 21}).status_code == 422


def test_the_pdf_is_a_real_pdf_with_each_indicator_its_formula_and_the_months(
    console: TestClient, fake: FakeGateway
) -> None:
    from pypdf import PdfReader

    r = console.get("/console/t/default/chi-so/pdf", params={"tu": "2025-12", "den": "2026-03"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == 'attachment; filename="chi-so-766-default.pdf"'
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
    assert "BỘ CHỈ SỐ 766" in text and "Tỷ lệ hồ sơ giải quyết đúng hạn" in text
    assert "Thời gian giải quyết trung bình theo thủ tục" in text and "2.000635" in text
    assert "0 / 0" in text and "N/A" in text  # the whole card: before October nothing
    assert "12/2025 01/2026 02/2026 03/2026" in text
    assert "Tỷ lệ hồ sơ giải quyết đúng hạn (%) 100 25 — 75" in text


def test_a_bad_range_for_the_pdf_is_refused_with_its_code(console: TestClient) -> None:
    r = console.get("/console/t/default/chi-so/pdf", params={"tu": "2026-03", "den": "2025-03"})
    assert r.status_code == 400 and "INVALID_MONTH_RANGE" in r.text
    assert "Tháng cuối đứng trước tháng đầu" in r.text


def test_the_pdf_follows_the_chosen_language(console: TestClient) -> None:
    from pypdf import PdfReader

    console.cookies.set("vnsb_lang", "en", path="/console")
    r = console.get("/console/t/default/chi-so/pdf")
    assert r.status_code == 200
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.content)).pages)
    assert "SCORECARD 766" in text and "By month" in text and "Numerator / denominator" in text

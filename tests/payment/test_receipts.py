"""Receipts (PDF and JSON), daily reconciliation, refunds and their notices."""

from __future__ import annotations

import csv
import io
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pypdf
import pytest

from tests.payment.conftest import (
    PARTNER,
    PAYER,
    REFUND_NOTIFY_ORDER,
    PartnerSetup,
    init_body,
    mac,
    ref,
    refund_body,
    verify,
    wait_for,
)
from tests.support import TenantClient
from vnsandbox.vn.money import amount_in_words


def _paid(province: PartnerSetup, amount: int = 150_000, bank: str = "VCB") -> dict[str, Any]:
    reply = province.init(amount=amount)
    province.complete(reply["MaGiaoDich"], "success", bank=bank)
    return reply


def _pdf_text(content: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_receipt_pdf_contains_the_payer_name_with_diacritics(payment: TenantClient, province: PartnerSetup) -> None:
    reply = _paid(province)
    r = payment.get(f"/receipts/{reply['MaGiaoDich']}.pdf")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-")
    text = _pdf_text(r.content)
    assert PAYER in text
    assert "BIÊN LAI THU PHÍ, LỆ PHÍ" in text
    assert "Lệ phí đăng ký" in text
    assert "150.000 đ" in text
    assert reply["MaGiaoDich"] in text


def test_receipt_pdf_is_reachable_from_the_payment_page(payment: TenantClient, province: PartnerSetup) -> None:
    province.register(return_url="")
    reply = province.init()
    page = reply["UrlThanhToan"].split("testserver", 1)[1]
    payment.client.post(page, data={"action": "success", "MaNganHang": "VCB"})
    r = payment.client.get(page + "/receipt.pdf")
    assert PAYER in _pdf_text(r.content)


def test_receipt_json_carries_the_receipt_data(payment: TenantClient, province: PartnerSetup) -> None:
    reply = _paid(province)
    data = payment.get(f"/receipts/{reply['MaGiaoDich']}.json").json()
    assert data["SoBienLai"] == "BL-" + reply["MaGiaoDich"]
    assert (data["HoTenNguoiNop"], data["MaHoSo"], data["MaTTHC"]) == (PAYER, "000.00.01.H22-260915-00001", "2.002492")
    assert data["SoTien"] == sum(f["SoTien"] for f in data["PhiLePhi"]) == 150_000
    assert (data["MaNganHang"], data["TenNganHang"]) == ("VCB", "Vietcombank")
    assert len(data["NgayThanhToan"]) == 14


def test_unpaid_transaction_has_no_receipt(payment: TenantClient, province: PartnerSetup) -> None:
    reply = province.init()
    for suffix in (".json", ".pdf"):
        r = payment.get(f"/receipts/{reply['MaGiaoDich']}{suffix}")
        assert (r.status_code, r.json()["error_code"]) == (409, "RECEIPT_NOT_AVAILABLE")


def test_receipt_of_another_tenant_is_not_found(payment: TenantClient, province: PartnerSetup) -> None:
    reply = _paid(province)
    other = TenantClient(payment.client, payment.tenant + "-x")
    assert other.get(f"/receipts/{reply['MaGiaoDich']}.json").status_code == 404


def _report(payment: TenantClient, day: str, fmt: str = "json") -> Any:
    params = {"MaDoiTac": PARTNER, "Ngay": day, "format": fmt}
    params["MaXacThuc"] = mac({"MaDoiTac": PARTNER, "Ngay": day}, ["MaDoiTac", "Ngay"])
    r = payment.get("/reconciliation", params=params)
    assert r.status_code == 200, r.text
    return r


def test_reconciliation_totals_equal_the_sum_of_paid_transactions(
    payment: TenantClient, province: PartnerSetup
) -> None:
    paid = [_paid(province, amount) for amount in (150_000, 70_000, 1_250_000)]
    failed = province.init(amount=90_000)
    province.complete(failed["MaGiaoDich"], "card_locked")
    pending = province.init(amount=30_000)
    day = province.query(pending["MaThamChieu"])["ThoiGianKhoiTao"][:8]
    r = _report(payment, day, "csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {row["MaGiaoDich"] for row in rows} == {p["MaGiaoDich"] for p in [*paid, failed, pending]}
    paid_rows = [row for row in rows if row["TrangThaiGD"] == "1"]
    assert sum(int(row["SoTien"]) for row in paid_rows) == 1_470_000
    assert r.headers["x-tong-tien-thanh-cong"] == "1470000"
    assert r.headers["x-so-giao-dich-thanh-cong"] == "3"
    states = {row["MaGiaoDich"]: (row["TrangThaiGD"], row["MaLoi"]) for row in rows}
    assert states[failed["MaGiaoDich"]] == ("4", "12")
    assert states[pending["MaGiaoDich"]] == ("3", "")
    report = _report(payment, day).json()
    assert (report["SoGiaoDich"], report["TongTienThanhCong"]) == (5, 1_470_000)


def test_reconciliation_of_another_day_is_empty(payment: TenantClient, province: PartnerSetup) -> None:
    _paid(province)
    report = _report(payment, "20200101").json()
    assert (report["SoGiaoDich"], report["TongTienThanhCong"], report["GiaoDich"]) == (0, 0, [])


def test_reconciliation_needs_the_partner_checksum(payment: TenantClient, province: PartnerSetup) -> None:
    r = payment.get("/reconciliation", params={"MaDoiTac": PARTNER, "Ngay": "20260915", "MaXacThuc": "00"})
    assert (r.status_code, r.json()["error_code"]) == (401, "CHECKSUM_INVALID")


@pytest.mark.parametrize("day", ["2026-09-15", "20261301", "99991231"])
def test_reconciliation_with_a_malformed_day_is_refused(
    payment: TenantClient, province: PartnerSetup, day: str
) -> None:
    params = {
        "MaDoiTac": PARTNER,
        "Ngay": day,
        "MaXacThuc": mac({"MaDoiTac": PARTNER, "Ngay": day}, ["MaDoiTac", "Ngay"]),
    }
    r = payment.get("/reconciliation", params=params)
    assert (r.status_code, r.json()["error_code"]) == (422, "FIELD_INVALID")


def _refund(payment: TenantClient, reference: str, amount: int, refund_ref: str | None = None) -> Any:
    return payment.post("/payments", json=refund_body(reference, refund_ref or ref(), amount))


def test_partial_then_full_refund_of_a_paid_transaction(payment: TenantClient, province: PartnerSetup) -> None:
    reply = _paid(province)
    first = _refund(payment, reply["MaThamChieu"], 50_000)
    assert first.status_code == 200, first.text
    assert (first.json()["error_code"], first.json()["SoTienDaHoan"]) == ("0", 50_000)
    rest = _refund(payment, reply["MaThamChieu"], 100_000)
    assert rest.json()["SoTienDaHoan"] == 150_000
    assert province.query(reply["MaThamChieu"])["SoTienDaHoan"] == 150_000
    over = _refund(payment, reply["MaThamChieu"], 1)
    assert (over.status_code, over.json()["error_code"]) == (422, "REFUND_AMOUNT_EXCEEDED")


def test_refund_larger_than_the_payment_is_refused(payment: TenantClient, province: PartnerSetup) -> None:
    reply = _paid(province)
    r = _refund(payment, reply["MaThamChieu"], 150_001)
    assert (r.status_code, r.json()["error_code"]) == (422, "REFUND_AMOUNT_EXCEEDED")
    assert province.query(reply["MaThamChieu"])["SoTienDaHoan"] == 0


def test_refund_of_an_unpaid_transaction_is_refused(payment: TenantClient, province: PartnerSetup) -> None:
    reply = province.init()
    r = _refund(payment, reply["MaThamChieu"], 10_000)
    assert (r.status_code, r.json()["error_code"]) == (409, "PAYMENT_NOT_REFUNDABLE")


def test_repeated_refund_with_same_reference_is_applied_once(payment: TenantClient, province: PartnerSetup) -> None:
    reply = _paid(province)
    refund_ref = ref()
    a = _refund(payment, reply["MaThamChieu"], 20_000, refund_ref).json()
    b = _refund(payment, reply["MaThamChieu"], 20_000, refund_ref).json()
    assert a["MaHoanTien"] == b["MaHoanTien"]
    assert province.query(reply["MaThamChieu"])["SoTienDaHoan"] == 20_000
    c = _refund(payment, reply["MaThamChieu"], 30_000, refund_ref)
    assert (c.status_code, c.json()["error_code"]) == (409, "REFERENCE_CONFLICT")


def test_refund_sends_its_own_signed_notice(payment: TenantClient, province: PartnerSetup) -> None:
    reply = _paid(province)
    refund = _refund(payment, reply["MaThamChieu"], 40_000).json()

    def refund_notices() -> list[Any]:
        return [n for n in province.notices() if n.json()["LoaiBanTin"] == "REFUND_NOTIFY"]

    [notice] = wait_for(refund_notices, what="refund notice")
    body = notice.json()
    assert (body["MaHoanTien"], body["SoTien"], body["MaLoi"]) == (refund["MaHoanTien"], 40_000, "00")
    assert body["MaGiaoDich"] == reply["MaGiaoDich"]
    assert verify(body, REFUND_NOTIFY_ORDER)


def test_refunded_amount_shows_in_reconciliation(payment: TenantClient, province: PartnerSetup) -> None:
    reply = _paid(province)
    _refund(payment, reply["MaThamChieu"], 40_000)
    day = province.query(reply["MaThamChieu"])["ThoiGianKhoiTao"][:8]
    report = _report(payment, day).json()
    assert (report["TongTienThanhCong"], report["TongTienDaHoan"]) == (150_000, 40_000)


def test_receipt_read_is_written_to_the_audit_trail(payment: TenantClient, province: PartnerSetup) -> None:
    reply = _paid(province)
    payment.get(f"/receipts/{reply['MaGiaoDich']}.json", headers={"x-purpose": "reconciliation"})
    [record] = payment.get("/_sandbox/audit", params={"subject": "079301000123"}).json()["records"]
    assert record["service"] == "payment"
    assert record["action"] == "receipt.json"
    assert record["fields"] == ["DiaChiNguoiNop", "HoTenNguoiNop", "SoCMNDNguoiNop"]
    assert record["purpose"] == "reconciliation"


def test_concurrent_refunds_never_exceed_the_payment(payment: TenantClient, province: PartnerSetup) -> None:
    reply = _paid(province)
    with ThreadPoolExecutor(max_workers=5) as pool:
        replies = list(pool.map(lambda _i: _refund(payment, reply["MaThamChieu"], 40_000), range(5)))
    codes = sorted(r.json()["error_code"] for r in replies)
    assert all(r.status_code < 500 for r in replies), [r.text for r in replies]
    assert codes == ["0", "0", "0", "REFUND_AMOUNT_EXCEEDED", "REFUND_AMOUNT_EXCEEDED"]
    assert province.query(reply["MaThamChieu"])["SoTienDaHoan"] == 120_000


def test_concurrent_identical_inits_open_one_payment(payment: TenantClient, province: PartnerSetup) -> None:
    body = init_body(ref())
    with ThreadPoolExecutor(max_workers=5) as pool:
        replies = list(pool.map(lambda _i: payment.post("/payments", json=body), range(5)))
    assert all(r.status_code == 200 for r in replies), [r.text for r in replies]
    assert len({r.json()["MaGiaoDich"] for r in replies}) == 1
    assert payment.get("/_sandbox/payments").json()["count"] == 1


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        (150_000, "Một trăm năm mươi nghìn đồng"),
        (135_000, "Một trăm ba mươi lăm nghìn đồng"),
        (21_000, "Hai mươi mốt nghìn đồng"),
        (15_000, "Mười lăm nghìn đồng"),
        (104_000, "Một trăm linh bốn nghìn đồng"),
        (1_050_000, "Một triệu không trăm năm mươi nghìn đồng"),
        (1_000_005, "Một triệu không trăm linh năm đồng"),
        (2_000_000_000, "Hai tỷ đồng"),
    ],
)
def test_amount_in_words_reads_like_a_vietnamese_receipt(amount: int, words: str) -> None:
    assert amount_in_words(amount) == words


def test_receipt_shows_the_amount_in_words(payment: TenantClient, province: PartnerSetup) -> None:
    reply = _paid(province)
    assert payment.get(f"/receipts/{reply['MaGiaoDich']}.json").json()["SoTienBangChu"] == (
        "Một trăm năm mươi nghìn đồng"
    )
    assert "Bằng chữ: Một trăm năm mươi nghìn đồng" in _pdf_text(
        payment.get(f"/receipts/{reply['MaGiaoDich']}.pdf").content
    )

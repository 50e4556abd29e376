"""Outcomes of a payment: through the hosted page (form posts), headlessly, magic values, expiry, QUERY."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.payment.conftest import (
    INIT_ORDER,
    NOTIFY_ORDER,
    PAYER,
    QUERY_REPLY_ORDER,
    PartnerSetup,
    advance,
    init_fields,
    query_body,
    signed,
    verify,
)
from tests.support import TenantClient

OUTCOMES = [
    # outcome, TrangThaiGD, MaLoi
    ("success", 1, "00"),
    ("insufficient_funds", 4, "51"),
    ("card_locked", 4, "12"),
    ("cancelled", 4, "24"),
    ("timeout", 4, "11"),
]


def _page_path(reply: dict[str, Any]) -> str:
    return str(urlsplit(reply["UrlThanhToan"]).path)


def test_payment_page_shows_the_order_summary_in_vietnamese(payment: TenantClient, province: PartnerSetup) -> None:
    reply = province.init(amount=150_000)
    page = payment.client.get(_page_path(reply))  # a browser: no tenant header
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    for text in (
        "Đăng ký khai sinh",
        "2.002492",
        "000.00.01.H22-260915-00001",
        PAYER,
        "Lệ phí đăng ký",
        "100.000 đ",
        "Phí sao y bản chính",
        "50.000 đ",
        "150.000 đ",
        "Thanh toán thành công",
        "không đủ số dư",
        "thẻ bị khóa",
        "Hủy giao dịch",
        "Để hết thời gian chờ",
        "Ví MoMo",
        "Vietcombank (VCB)",
        "Ngân hàng TMCP Đầu tư và Phát triển Việt Nam",
    ):
        assert text in html, text


def test_page_of_unknown_token_is_not_found(payment: TenantClient, province: PartnerSetup) -> None:
    r = payment.client.get(f"/pay/{payment.tenant}/no-such-token")
    assert (r.status_code, r.json()["error_code"]) == (404, "PAYMENT_NOT_FOUND")


def test_page_token_does_not_work_under_another_tenant(payment: TenantClient, province: PartnerSetup) -> None:
    reply = province.init()
    token = _page_path(reply).rsplit("/", 1)[1]
    assert payment.client.get(f"/pay/t-someone-else/{token}").status_code == 404


@pytest.mark.parametrize(("outcome", "state", "code"), OUTCOMES)
def test_each_outcome_through_the_page_redirects_with_signed_fields(
    payment: TenantClient, province: PartnerSetup, outcome: str, state: int, code: str
) -> None:
    reply = province.init()
    r = payment.client.post(_page_path(reply), data={"action": outcome, "MaNganHang": "VCB"}, follow_redirects=False)
    assert r.status_code == 303
    target = urlsplit(r.headers["location"])
    assert target.netloc == "mcdt.example.gov.vn"
    fields = dict(parse_qsl(target.query))
    assert fields["MaLoi"] == code
    assert fields["MaThamChieu"] == reply["MaThamChieu"]
    assert fields["MaGiaoDich"] == reply["MaGiaoDich"]
    assert fields["MaNganHang"] == "VCB"
    assert verify(fields, NOTIFY_ORDER)
    assert province.query(reply["MaThamChieu"])["TrangThaiGD"] == state


@pytest.mark.parametrize(("outcome", "state", "code"), OUTCOMES)
def test_each_outcome_headlessly_through_the_control_plane(
    payment: TenantClient, province: PartnerSetup, outcome: str, state: int, code: str
) -> None:
    reply = province.init()
    done = province.complete(reply["MaGiaoDich"], outcome, bank="BIDV")
    assert (done["TrangThaiGD"], done["MaLoi"]) == (state, code)
    q = province.query(reply["MaThamChieu"])
    assert (q["TrangThaiGD"], q["MaLoi"], q["MaNganHang"]) == (state, code, "BIDV")


def test_page_without_return_url_shows_the_result(payment: TenantClient, province: PartnerSetup) -> None:
    province.register(return_url="")
    reply = province.init()
    r = payment.client.post(_page_path(reply), data={"action": "success", "MaNganHang": "MOMO"})
    assert r.status_code == 200
    assert "Thanh toán thành công" in r.text
    assert "receipt.pdf" in r.text


def test_a_finished_payment_cannot_be_paid_again_on_the_page(payment: TenantClient, province: PartnerSetup) -> None:
    reply = province.init()
    province.complete(reply["MaGiaoDich"], "cancelled")
    r = payment.client.post(_page_path(reply), data={"action": "success", "MaNganHang": "VCB"}, follow_redirects=False)
    assert r.status_code == 409
    assert "Đã hủy" in r.text
    assert province.query(reply["MaThamChieu"])["MaLoi"] == "24"


def test_completing_a_finished_payment_headlessly_is_refused(payment: TenantClient, province: PartnerSetup) -> None:
    reply = province.init()
    province.complete(reply["MaGiaoDich"], "success")
    r = payment.post(f"/_sandbox/payments/{reply['MaGiaoDich']}/complete", json={"outcome": "cancelled"})
    assert (r.status_code, r.json()["error_code"]) == (409, "PAYMENT_NOT_PENDING")


@pytest.mark.parametrize(
    ("bank", "state", "code"),
    [
        ("SANDBOX_OK", 1, "00"),
        ("SANDBOX_NOFUNDS", 4, "51"),
        ("SANDBOX_LOCKED", 4, "12"),
        ("SANDBOX_CANCEL", 4, "24"),
        ("SANDBOX_TIMEOUT", 4, "11"),
    ],
)
def test_magic_bank_completes_the_payment_at_init(
    payment: TenantClient, province: PartnerSetup, bank: str, state: int, code: str
) -> None:
    reply = province.init(MaNganHang=bank)
    q = province.query(reply["MaThamChieu"])
    assert (q["TrangThaiGD"], q["MaLoi"]) == (state, code)


@pytest.mark.parametrize(("amount", "code"), [(150_051, "51"), (150_012, "12"), (150_000, "00")])
def test_magic_amount_ending_decides_a_successful_payment(
    payment: TenantClient, province: PartnerSetup, amount: int, code: str
) -> None:
    reply = province.init(amount=amount)
    r = payment.client.post(_page_path(reply), data={"action": "success", "MaNganHang": "VCB"}, follow_redirects=False)
    assert dict(parse_qsl(urlsplit(r.headers["location"]).query))["MaLoi"] == code


@pytest.mark.parametrize(
    ("bank", "amount", "code"),
    [
        ("SANDBOX_OK", 150_051, "51"),
        ("SANDBOX_OK", 150_012, "12"),
        ("SANDBOX_LOCKED", 150_051, "12"),
        ("SANDBOX_NOFUNDS", 150_012, "51"),
        ("SANDBOX_CANCEL", 150_051, "24"),
    ],
)
def test_magic_amount_fails_a_sandbox_ok_payment_but_not_a_magic_failure(
    payment: TenantClient, province: PartnerSetup, bank: str, amount: int, code: str
) -> None:
    # docs/payment.md: the amount endings apply "when it is paid successfully"; SANDBOX_OK is a
    # successful payment, the failing magic banks are not.
    reply = province.init(amount=amount, MaNganHang=bank)
    q = province.query(reply["MaThamChieu"])
    assert (q["TrangThaiGD"], q["MaLoi"]) == (4, code)


def test_magic_amount_applies_to_a_headless_success_with_sandbox_ok(
    payment: TenantClient, province: PartnerSetup
) -> None:
    reply = province.init(amount=150_051)
    assert province.complete(reply["MaGiaoDich"], "success", bank="SANDBOX_OK")["MaLoi"] == "51"


def test_query_of_a_pending_payment_is_state_3(payment: TenantClient, province: PartnerSetup) -> None:
    reply = province.init()
    q = province.query(reply["MaThamChieu"])
    assert q["error_code"] == "0"
    assert (q["TrangThaiGD"], q["MaLoi"], q["ThoiGianGD"]) == (3, "", "")
    assert q["MaGiaoDich"] == reply["MaGiaoDich"]
    assert q["SoTien"] == 150_000
    assert verify(q, QUERY_REPLY_ORDER)


def test_query_reply_of_a_paid_payment_is_signed(payment: TenantClient, province: PartnerSetup) -> None:
    reply = province.init()
    province.complete(reply["MaGiaoDich"], "success", bank="VCB")
    q = province.query(reply["MaThamChieu"])
    assert (q["TrangThaiGD"], q["MaLoi"], q["MaNganHang"]) == (1, "00", "VCB")
    assert len(q["ThoiGianGD"]) == 14
    assert verify(q, QUERY_REPLY_ORDER)


def test_query_of_unknown_reference_is_not_found(payment: TenantClient, province: PartnerSetup) -> None:
    r = payment.post("/payments", json=query_body("NO-SUCH-REF"))
    assert (r.status_code, r.json()["error_code"]) == (404, "PAYMENT_NOT_FOUND")


def test_query_with_wrong_checksum_is_refused(payment: TenantClient, province: PartnerSetup) -> None:
    reply = province.init()
    body = query_body(reply["MaThamChieu"])
    body["MaXacThuc"] = "0" * 64
    r = payment.post("/payments", json=body)
    assert (r.status_code, r.json()["error_code"]) == (401, "CHECKSUM_INVALID")


def test_pending_payment_expires_after_its_time_on_the_test_clock(
    payment: TenantClient, province: PartnerSetup
) -> None:
    reply = province.init()
    advance(payment, 899)
    assert province.query(reply["MaThamChieu"])["TrangThaiGD"] == 3
    advance(payment, 2)
    q = province.query(reply["MaThamChieu"])
    assert (q["TrangThaiGD"], q["MaLoi"]) == (4, "11")


def test_expired_payment_page_shows_the_timeout(payment: TenantClient, province: PartnerSetup) -> None:
    reply = province.init()
    advance(payment, 901)
    page = payment.client.get(_page_path(reply))
    assert "Hết hạn" in page.text
    assert "Thanh toán thành công</button>" not in page.text


def test_expiry_sweep_expires_payments_nobody_looks_at(payment: TenantClient, province: PartnerSetup) -> None:
    reply = province.init()
    advance(payment, 901)
    r = payment.post("/_sandbox/expire")
    assert r.status_code == 200
    view = payment.get(f"/_sandbox/payments/{reply['MaGiaoDich']}").json()
    assert (view["status"], view["MaLoi"]) == ("expired", "11")


def test_payment_url_follows_the_gateway_prefix(payment: TenantClient, province: PartnerSetup) -> None:
    headers = {
        "x-forwarded-host": "lgsp.example.gov.vn",
        "x-forwarded-proto": "https",
        "x-forwarded-prefix": "/paygov/v1",
    }
    r = payment.post("/payments", json=signed(init_fields(), INIT_ORDER), headers=headers)
    assert r.json()["UrlThanhToan"].startswith(f"https://lgsp.example.gov.vn/paygov/v1/pay/{payment.tenant}/")


def test_payment_page_escapes_what_the_partner_sent(payment: TenantClient, province: PartnerSetup) -> None:
    reply = province.init(ThongTinGiaoDich='<script>alert("x")</script>')
    html = payment.client.get(_page_path(reply)).text
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert" in html


def test_payment_page_names_the_procedure_from_the_catalogue(payment: TenantClient, province: PartnerSetup) -> None:
    fields = init_fields()
    fields["ThongTinBienLai"]["MaTTHC"] = "1.000942"
    del fields["ThongTinBienLai"]["TenTTHC"]
    r = payment.post("/payments", json=signed(fields, INIT_ORDER))
    html = payment.client.get(_page_path(r.json())).text
    assert "1.000942 - Trả lại giấy phép nhận chìm (cấp tỉnh)" in html


# --- Bad form posts of the page --------------------------------------------------------------

BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.mark.parametrize(
    "form",
    [{"MaNganHang": "VCB"}, {}, {"action": ""}],
    ids=["no action", "empty form", "empty action"],
)
def test_page_form_without_an_outcome_shows_a_vietnamese_error_page_to_a_browser(
    payment: TenantClient, province: PartnerSetup, form: dict[str, str]
) -> None:
    reply = province.init()
    r = payment.client.post(_page_path(reply), data=form, headers=BROWSER, follow_redirects=False)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("text/html")
    assert "Thiếu trường bắt buộc" in r.text and "FIELD_MISSING" in r.text
    assert _page_path(reply) in r.text  # a way back to the page
    assert province.query(reply["MaThamChieu"])["TrangThaiGD"] == 3  # still pending


def test_page_form_without_an_outcome_answers_the_documented_json_error_to_an_api_client(
    payment: TenantClient, province: PartnerSetup
) -> None:
    reply = province.init()
    r = payment.client.post(_page_path(reply), data={"MaNganHang": "VCB"}, headers={"accept": "application/json"})
    body = r.json()
    assert (r.status_code, body["error_code"]) == (422, "FIELD_MISSING")
    assert body["message"] == "Thiếu trường bắt buộc"
    assert body["details"][0]["field"] == "action"


@pytest.mark.parametrize(
    "form", [{"action": "steal"}, {"action": "success", "MaNganHang": "X" * 40}], ids=["unknown action", "long bank"]
)
def test_page_form_with_a_bad_field_is_field_invalid_on_a_page(
    payment: TenantClient, province: PartnerSetup, form: dict[str, str]
) -> None:
    reply = province.init()
    r = payment.client.post(_page_path(reply), data=form, headers=BROWSER, follow_redirects=False)
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert "FIELD_INVALID" in r.text and "Trường dữ liệu sai định dạng" in r.text
    assert province.query(reply["MaThamChieu"])["TrangThaiGD"] == 3

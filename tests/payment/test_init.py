"""INIT: checksum, validation of every field, idempotency by MaThamChieu, the reply."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.payment.conftest import (
    INIT_ORDER,
    INIT_REPLY_ORDER,
    PARTNER,
    SECRET,
    PartnerSetup,
    init_body,
    init_fields,
    mac,
    ref,
    signed,
    verify,
)
from tests.support import TenantClient


def _post(payment: TenantClient, body: Any) -> tuple[int, dict[str, Any]]:
    r = payment.post("/payments", json=body)
    assert r.status_code != 500, r.text
    return r.status_code, r.json()


def _payments(payment: TenantClient) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = payment.get("/_sandbox/payments").json()["payments"]
    return items


def test_init_answers_error_code_0_with_payment_url_and_signed_reply(
    payment: TenantClient, province: PartnerSetup
) -> None:
    status, reply = _post(payment, init_body(amount=150_000))
    assert status == 200
    assert reply["error_code"] == "0"
    assert reply["MaDoiTac"] == PARTNER
    assert reply["SoTien"] == 150_000
    assert reply["MaGiaoDich"].startswith("PG")
    assert reply["UrlThanhToan"].startswith("http://testserver/pay/" + payment.tenant + "/")
    assert verify(reply, INIT_REPLY_ORDER)


def test_checksum_computed_independently_is_accepted_with_sha512(payment: TenantClient, province: PartnerSetup) -> None:
    province.register("HN_SHA512", algorithm="sha512")
    fields = init_fields(partner="HN_SHA512")
    status, reply = _post(payment, signed(fields, INIT_ORDER, SECRET, "sha512"))
    assert status == 200, reply
    assert verify(reply, INIT_REPLY_ORDER, SECRET, "sha512")


def test_partner_field_order_is_configurable(payment: TenantClient, province: PartnerSetup) -> None:
    order = ["MaDoiTac", "MaThamChieu", "SoTien", "ThoiGianGD"]
    province.register("DN_ORDER", field_orders={"INIT": order})
    fields = init_fields(partner="DN_ORDER")
    assert _post(payment, signed(fields, INIT_ORDER))[0] == 401
    status, _ = _post(payment, signed(fields, order))
    assert status == 200


def test_wrong_checksum_is_refused(payment: TenantClient, province: PartnerSetup) -> None:
    body = init_body()
    body["SoTien"] = 1_000  # tampered after signing
    status, reply = _post(payment, body)
    assert (status, reply["error_code"]) == (401, "CHECKSUM_INVALID")
    assert _payments(payment) == []


def test_checksum_with_another_secret_is_refused(payment: TenantClient, province: PartnerSetup) -> None:
    body = signed(init_fields(), INIT_ORDER, secret="not-the-secret")
    status, reply = _post(payment, body)
    assert (status, reply["error_code"]) == (401, "CHECKSUM_INVALID")


def test_unknown_partner_is_refused(payment: TenantClient, province: PartnerSetup) -> None:
    status, reply = _post(payment, signed(init_fields(partner="NOBODY"), INIT_ORDER))
    assert (status, reply["error_code"]) == (401, "PARTNER_UNKNOWN")


def test_partner_of_another_tenant_is_unknown(payment: TenantClient, province: PartnerSetup) -> None:
    other = TenantClient(payment.client, payment.tenant + "-other")
    status, reply = _post(other, init_body())
    assert (status, reply["error_code"]) == (401, "PARTNER_UNKNOWN")


def test_unknown_message_type_has_its_own_code(payment: TenantClient, province: PartnerSetup) -> None:
    status, reply = _post(payment, signed(init_fields(LoaiBanTin="PAYOUT"), INIT_ORDER))
    assert (status, reply["error_code"]) == (400, "MESSAGE_TYPE_UNKNOWN")


def test_every_message_type_is_answered_by_its_own_handler() -> None:
    from services.payment.protocol import REQUEST_TYPES
    from services.payment.router import MESSAGES

    assert sorted(MESSAGES) == sorted(REQUEST_TYPES) == ["INIT", "QUERY", "REFUND"]


@pytest.mark.parametrize(
    "field",
    ["PhienBan", "MaThamChieu", "SoTien", "MaTienTe", "LoaiHinhThanhToan", "MaKenhThanhToan", "MaThietBi",
     "NgonNgu", "ThoiGianGD", "ThongTinGiaoDich", "Ip"],
)  # fmt: skip
def test_missing_field_is_refused(payment: TenantClient, province: PartnerSetup, field: str) -> None:
    fields = init_fields()
    del fields[field]
    status, reply = _post(payment, signed(fields, INIT_ORDER))
    assert (status, reply["error_code"]) == (422, "FIELD_MISSING")
    assert [d["field"] for d in reply["details"]] == [field]
    assert _payments(payment) == []


def test_missing_checksum_is_a_missing_field(payment: TenantClient, province: PartnerSetup) -> None:
    status, reply = _post(payment, init_fields())
    assert (status, reply["error_code"]) == (422, "FIELD_MISSING")
    assert reply["details"][0]["field"] == "MaXacThuc"


def test_missing_payer_name_in_receipt_is_refused(payment: TenantClient, province: PartnerSetup) -> None:
    fields = init_fields()
    del fields["ThongTinBienLai"]["HoTenNguoiNop"]
    status, reply = _post(payment, signed(fields, INIT_ORDER))
    assert (status, reply["error_code"]) == (422, "FIELD_MISSING")
    assert reply["details"][0]["field"] == "ThongTinBienLai.HoTenNguoiNop"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("PhienBan", "v1"),
        ("MaThamChieu", "has spaces/and slash"),
        ("LoaiHinhThanhToan", "REFUND"),
        ("NgonNgu", "fr-FR"),
        ("ThoiGianGD", "20261345250000"),
        ("ThoiGianGD", "2026-09-15"),
        ("Ip", "999.1.1.1"),
        ("ThongTinGiaoDich", ""),
        ("MaNganHang", 970436),
        ("ThongTinBienLai", {"MaDichVu": 7, "HoTenNguoiNop": "A"}),
    ],
)
def test_malformed_field_is_refused(payment: TenantClient, province: PartnerSetup, field: str, value: Any) -> None:
    status, reply = _post(payment, signed(init_fields(**{field: value}), INIT_ORDER))
    assert (status, reply["error_code"]) == (422, "FIELD_INVALID"), reply
    assert reply["details"][0]["field"].startswith(field)
    assert _payments(payment) == []


@pytest.mark.parametrize("amount", [-150_000, 0, 150_000.5, "150000", 1.5e5, True])
def test_amount_must_be_a_positive_integer(payment: TenantClient, province: PartnerSetup, amount: Any) -> None:
    fields = init_fields()
    fields["SoTien"] = amount
    del fields["ThongTinBienLai"]
    status, reply = _post(payment, signed(fields, INIT_ORDER))
    assert (status, reply["error_code"]) == (422, "AMOUNT_INVALID"), reply
    assert _payments(payment) == []


def test_negative_fee_is_an_invalid_amount(payment: TenantClient, province: PartnerSetup) -> None:
    fields = init_fields()
    fields["ThongTinBienLai"]["PhiLePhi"][1]["SoTien"] = -1
    status, reply = _post(payment, signed(fields, INIT_ORDER))
    assert (status, reply["error_code"]) == (422, "AMOUNT_INVALID")


@pytest.mark.parametrize("currency", ["USD", "vnd", "VN"])
def test_currency_other_than_vnd_is_refused(payment: TenantClient, province: PartnerSetup, currency: str) -> None:
    status, reply = _post(payment, signed(init_fields(MaTienTe=currency), INIT_ORDER))
    assert (status, reply["error_code"]) == (422, "CURRENCY_UNSUPPORTED")


def test_amount_must_equal_the_sum_of_the_fees(payment: TenantClient, province: PartnerSetup) -> None:
    fields = init_fields(amount=150_000)
    fields["SoTien"] = 160_000
    status, reply = _post(payment, signed(fields, INIT_ORDER))
    assert (status, reply["error_code"]) == (422, "AMOUNT_MISMATCH")
    assert _payments(payment) == []


def test_init_without_receipt_data_needs_no_fee_sum(payment: TenantClient, province: PartnerSetup) -> None:
    fields = init_fields(amount=75_000)
    del fields["ThongTinBienLai"]
    assert _post(payment, signed(fields, INIT_ORDER))[0] == 200


def test_body_that_is_not_a_json_object_is_malformed(payment: TenantClient, province: PartnerSetup) -> None:
    for content in (b"[1, 2]", b"{not json", b'"INIT"'):
        r = payment.post("/payments", content=content, headers={"content-type": "application/json"})
        assert (r.status_code, r.json()["error_code"]) == (400, "MALFORMED_JSON"), content


def test_repeated_init_with_same_content_returns_the_same_payment(
    payment: TenantClient, province: PartnerSetup
) -> None:
    body = init_body(ref())
    first = _post(payment, body)[1]
    second = _post(payment, body)[1]
    assert first["MaGiaoDich"] == second["MaGiaoDich"]
    assert first["UrlThanhToan"] == second["UrlThanhToan"]
    assert len(_payments(payment)) == 1


def test_reference_reused_with_other_content_is_refused(payment: TenantClient, province: PartnerSetup) -> None:
    reference = ref()
    first = _post(payment, init_body(reference, amount=150_000))[1]
    status, reply = _post(payment, init_body(reference, amount=200_000))
    assert (status, reply["error_code"]) == (409, "REFERENCE_CONFLICT")
    [only] = _payments(payment)
    assert (only["MaGiaoDich"], only["SoTien"]) == (first["MaGiaoDich"], 150_000)


def test_same_reference_at_another_partner_is_another_payment(payment: TenantClient, province: PartnerSetup) -> None:
    province.register("DN_MCDT")
    reference = ref()
    a = _post(payment, init_body(reference))[1]
    b = _post(payment, signed(init_fields(reference, partner="DN_MCDT"), INIT_ORDER))[1]
    assert a["MaGiaoDich"] != b["MaGiaoDich"]


def test_development_partner_works_without_registration(payment: TenantClient) -> None:
    fields = init_fields(partner="SANDBOX")
    body = signed(fields, INIT_ORDER, secret="sandbox-paygov-secret")
    status, reply = _post(payment, body)
    assert status == 200, reply
    assert verify(reply, INIT_REPLY_ORDER, "sandbox-paygov-secret")


def test_checksum_worked_example_of_the_docs() -> None:
    # The worked example in docs/payment.md, so the documentation cannot drift.
    text = "INIT|1.0.6|SANDBOX|HS-0001|150000|VND|PAY|WEB|DESKTOP|vi-VN||20260915103000|Nop le phi|203.0.113.7"
    fields = dict(zip(INIT_ORDER, text.split("|"), strict=True))
    assert mac(fields, INIT_ORDER, "sandbox-paygov-secret") == (
        "030dd47903c5209258fdca50c92addabae68aed2fcef84a9028d01e4485bd09e"
    )


@pytest.mark.parametrize("field", ["ThongTinGiaoDich", "MaDoiTac", "MaThamChieu"])
def test_control_characters_in_a_field_are_refused(payment: TenantClient, province: PartnerSetup, field: str) -> None:
    fields = init_fields()
    fields[field] = str(fields[field]) + "\x00"
    status, reply = _post(payment, signed(fields, INIT_ORDER))
    assert (status, reply["error_code"]) == (422, "FIELD_INVALID")
    assert reply["details"][0]["field"] == field
    assert _payments(payment) == []


@pytest.mark.parametrize(
    "path",
    [
        "/receipts/PG%00.json",
        "/_sandbox/payments/PG%00",
        "/_sandbox/partners/A%00B",
        "/reconciliation?MaDoiTac=A%00&Ngay=20260101&MaXacThuc=x",
    ],
)
def test_control_characters_in_the_url_are_refused(payment: TenantClient, path: str) -> None:
    r = payment.get(path)
    assert (r.status_code, r.json()["error_code"]) == (422, "FIELD_INVALID")


def test_control_characters_in_the_page_url_are_refused(payment: TenantClient) -> None:
    r = payment.client.get(f"/pay/{payment.tenant}/tok%00en")
    assert (r.status_code, r.json()["error_code"]) == (422, "FIELD_INVALID")


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_anywhere_are_refused(payment: TenantClient, province: PartnerSetup, token: str) -> None:
    raw = json.dumps(init_body(), ensure_ascii=False)[:-1] + f', "GhiChu": {token}}}'
    r = payment.post("/payments", content=raw.encode(), headers={"content-type": "application/json"})
    assert (r.status_code, r.json()["error_code"]) == (422, "FIELD_INVALID")
    assert r.json()["details"][0] == {"field": "GhiChu", "rule": "finite_number", "message": "finite number only"}
    assert _payments(payment) == []


@pytest.mark.parametrize("number", ["079301000123", "123456789", "0101234567-001", "B1234567"])
def test_payer_may_be_identified_by_cccd_cmnd_tax_code_or_passport(
    payment: TenantClient, province: PartnerSetup, number: str
) -> None:
    fields = init_fields()
    fields["ThongTinBienLai"]["SoCMNDNguoiNop"] = number
    assert _post(payment, signed(fields, INIT_ORDER))[0] == 200


def test_payer_number_with_spaces_is_malformed(payment: TenantClient, province: PartnerSetup) -> None:
    fields = init_fields()
    fields["ThongTinBienLai"]["SoCMNDNguoiNop"] = "079 301 000 123"
    status, reply = _post(payment, signed(fields, INIT_ORDER))
    assert (status, reply["error_code"]) == (422, "FIELD_INVALID")

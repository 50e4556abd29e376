"""Partner registry, INIT switches and tenant isolation of the control plane."""

from __future__ import annotations

from typing import Any

import pytest

from tests.payment.conftest import PARTNER, SECRET, PartnerSetup, init_body
from tests.support import TenantClient


def test_partner_registry_lists_registered_partners_and_the_development_partner(
    payment: TenantClient, province: PartnerSetup
) -> None:
    partners = {p["code"]: p for p in payment.get("/_sandbox/partners").json()["partners"]}
    assert partners["SANDBOX"]["builtin"] is True
    assert partners["SANDBOX"]["secret"] == "sandbox-paygov-secret"
    mine = partners[PARTNER]
    assert (mine["secret"], mine["algorithm"], mine["builtin"]) == (SECRET, "sha256", False)
    assert mine["field_orders"]["INIT"][:3] == ["LoaiBanTin", "PhienBan", "MaDoiTac"]
    assert mine["notice_url"].endswith("/paygov/notice")


def test_partner_can_be_replaced_and_removed(payment: TenantClient, province: PartnerSetup) -> None:
    province.register(algorithm="sha512")
    assert payment.get(f"/_sandbox/partners/{PARTNER}").json()["algorithm"] == "sha512"
    assert payment.delete(f"/_sandbox/partners/{PARTNER}").status_code == 200
    r = payment.get(f"/_sandbox/partners/{PARTNER}")
    assert (r.status_code, r.json()["error_code"]) == (401, "PARTNER_UNKNOWN")
    assert payment.post("/payments", json=init_body()).json()["error_code"] == "PARTNER_UNKNOWN"


@pytest.mark.parametrize(
    "body",
    [
        {"secret": "short"},
        {"secret": SECRET, "algorithm": "md5"},
        {"secret": SECRET, "field_orders": {"PAYOUT": ["SoTien"]}},
        {"secret": SECRET, "field_orders": {"INIT": []}},
        {"secret": SECRET, "notice_url": "ftp://example.org/x"},
    ],
)
def test_invalid_partner_configuration_is_refused(payment: TenantClient, body: dict[str, Any]) -> None:
    r = payment.put("/_sandbox/partners/BAD", json=body)
    assert r.status_code == 422, r.text
    assert payment.get("/_sandbox/partners/BAD").status_code == 401


def test_partner_code_with_spaces_is_refused(payment: TenantClient) -> None:
    r = payment.put("/_sandbox/partners/has space", json={"secret": SECRET})
    assert (r.status_code, r.json()["error_code"]) == (422, "PARTNER_INVALID")


def test_partners_are_per_tenant(payment: TenantClient, province: PartnerSetup) -> None:
    other = TenantClient(payment.client, payment.tenant + "-other")
    codes = [p["code"] for p in other.get("/_sandbox/partners").json()["partners"]]
    assert codes == ["SANDBOX"]


def test_fail_switch_refuses_init_and_writes_nothing(payment: TenantClient, province: PartnerSetup) -> None:
    assert payment.put("/_sandbox/switches/init_fail", json={"remaining": 1}).status_code == 200
    r = payment.post("/payments", json=init_body())
    assert (r.status_code, r.json()["error_code"]) == (503, "PLATFORM_UNAVAILABLE")
    assert payment.get("/_sandbox/payments").json()["count"] == 0
    assert payment.post("/payments", json=init_body()).status_code == 200  # used up


def test_fail_switch_scoped_to_another_partner_does_not_apply(payment: TenantClient, province: PartnerSetup) -> None:
    payment.put("/_sandbox/switches/init_fail", json={"scope": "OTHER_PARTNER"})
    assert payment.post("/payments", json=init_body()).status_code == 200


def test_slow_switch_delays_init_and_notes_it_in_the_journal(payment: TenantClient, province: PartnerSetup) -> None:
    payment.put("/_sandbox/switches/init_slow", json={"remaining": 1, "params": {"delay_s": 0.2}})
    r = payment.post("/payments", json=init_body())
    assert r.status_code == 200
    entry = payment.get("/_sandbox/journal", params={"request_id": r.headers["x-request-id"]}).json()["entries"][0]
    assert entry["notes"]["switch_init_slow_s"] == 0.2
    assert payment.get("/_sandbox/switches").json()["active"] == []


def test_protocol_tables_are_published(payment: TenantClient) -> None:
    data = payment.get("/_sandbox/protocol").json()
    assert data["magic_banks"]["SANDBOX_NOFUNDS"] == "insufficient_funds"
    assert data["result_codes"]["cancelled"]["MaLoi"] == "24"
    wanted = {
        "CHECKSUM_INVALID",
        "PARTNER_UNKNOWN",
        "FIELD_MISSING",
        "FIELD_INVALID",
        "AMOUNT_INVALID",
        "CURRENCY_UNSUPPORTED",
        "MESSAGE_TYPE_UNKNOWN",
        "REFERENCE_CONFLICT",
    }
    assert wanted <= set(data["error_codes"])


def test_reset_wipes_the_tenants_payments(payment: TenantClient, province: PartnerSetup) -> None:
    province.init()
    assert payment.post("/_sandbox/reset").status_code == 200
    assert payment.get("/_sandbox/payments").json()["count"] == 0
    assert [p["code"] for p in payment.get("/_sandbox/partners").json()["partners"]] == ["SANDBOX"]

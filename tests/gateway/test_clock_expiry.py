"""The tenant's test clock, moved once at the gateway, drives an expiry in every service.

Against the ``secured`` processes (auth at the gateway, signed tenants at the services),
through the gateway, with the embedded mode's development client, unit and partner.
Calls use the consumer's API key (which does not expire) so only the service's own expiry
is observed.
"""

from __future__ import annotations

import hashlib
import hmac
import time

import httpx
import pytest

from tests.gateway.conftest import TenantCreds, create_tenant

pytestmark = pytest.mark.multiprocess

INIT_ORDER = [
    "LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "SoTien", "MaTienTe", "LoaiHinhThanhToan",
    "MaKenhThanhToan", "MaThietBi", "NgonNgu", "MaNganHang", "ThoiGianGD", "ThongTinGiaoDich", "Ip",
]  # fmt: skip
QUERY_ORDER = ["LoaiBanTin", "PhienBan", "MaDoiTac", "MaThamChieu", "ThoiGianGD"]


@pytest.fixture
def tenant(secured_client: httpx.Client) -> TenantCreds:
    return create_tenant(secured_client)


def _key(tenant: TenantCreds) -> dict[str, str]:
    return {"x-api-key": tenant.api_key}


def _advance(tenant: TenantCreds, seconds: int) -> None:
    moved = tenant.client.post("/_sandbox/clock", json={"advance_seconds": seconds}, headers=_key(tenant)).json()
    assert moved["in_sync"] is True


def test_clock_expires_a_vneid_access_token(tenant: TenantCreds) -> None:
    issued = tenant.client.post(
        "/vneid/v1/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "population:verify"},
        auth=("vnsandbox-dev", "vnsandbox-dev-secret"),
        headers=_key(tenant),
    )
    assert issued.status_code == 200, issued.text
    token, lifetime = issued.json()["access_token"], issued.json()["expires_in"]
    call = {**_key(tenant), "authorization": f"Bearer {token}"}
    assert tenant.client.post("/vneid/v1/population/v1/verify", json={}, headers=call).status_code != 401
    _advance(tenant, lifetime + 1)
    expired = tenant.client.post("/vneid/v1/population/v1/verify", json={}, headers=call)
    assert expired.status_code == 401
    assert expired.json()["error"] == "invalid_token"


def test_clock_expires_a_dvcqg_session(tenant: TenantCreds) -> None:
    login = tenant.client.post(
        "/dvcqg/v1/api/login",
        json={"username": "sandbox", "password": "sandbox"},
        headers={**_key(tenant), "MaDonVi": "000.00.01.H22"},
    )
    assert login.json()["error_code"] == 0, login.text
    session = {**_key(tenant), "MaDonVi": "000.00.01.H22", "session": login.json()["session"]}
    period = {"TuNgay": "20260101", "DenNgay": "20261231"}
    assert tenant.client.get("/dvcqg/v1/api/doisoat", params=period, headers=session).json()["error_code"] == 0
    _advance(tenant, login.json()["expires_in"] + 1)
    expired = tenant.client.get("/dvcqg/v1/api/doisoat", params=period, headers=session)
    assert expired.json()["error_code"] == 12


def _signed(fields: dict[str, object], order: list[str]) -> dict[str, object]:
    text = "|".join("" if fields.get(f) is None else str(fields[f]) for f in order)
    mac = hmac.new(b"sandbox-paygov-secret", text.encode(), hashlib.sha256).hexdigest()
    return {**fields, "MaXacThuc": mac}


def test_clock_expires_a_pending_paygov_payment(tenant: TenantCreds) -> None:
    init = _signed(
        {
            "LoaiBanTin": "INIT",
            "PhienBan": "1.0.6",
            "MaDoiTac": "SANDBOX",
            "MaThamChieu": "HS-CLOCK-1",
            "SoTien": 150000,
            "MaTienTe": "VND",
            "LoaiHinhThanhToan": "PAY",
            "MaKenhThanhToan": "WEB",
            "MaThietBi": "DESKTOP",
            "NgonNgu": "vi-VN",
            "MaNganHang": None,
            "ThoiGianGD": "20260915103000",
            "ThongTinGiaoDich": "Nop le phi",
            "Ip": "203.0.113.7",
        },
        INIT_ORDER,
    )
    opened = tenant.client.post("/paygov/v1/payments", json=init, headers=_key(tenant))
    assert opened.json()["error_code"] == "0", opened.text
    query = _signed(
        {
            "LoaiBanTin": "QUERY",
            "PhienBan": "1.0.6",
            "MaDoiTac": "SANDBOX",
            "MaThamChieu": "HS-CLOCK-1",
            "ThoiGianGD": "20260915103500",
        },
        QUERY_ORDER,
    )
    assert tenant.client.post("/paygov/v1/payments", json=query, headers=_key(tenant)).json()["TrangThaiGD"] == 3
    _advance(tenant, 901)
    late = tenant.client.post("/paygov/v1/payments", json=query, headers=_key(tenant)).json()
    assert (late["TrangThaiGD"], late["MaLoi"]) == (4, "11")


def test_clock_expires_the_gateways_own_tokens(tenant: TenantCreds) -> None:
    assert tenant.get("/vneid/v1/").status_code == 200
    _advance(tenant, 3601)
    assert tenant.get("/vneid/v1/").json()["error_code"] == "TOKEN_EXPIRED"


def _open_paid_payment_with_unreachable_notice(tenant: TenantCreds, reference: str) -> None:
    partner = {"secret": "bench-partner-secret", "notice_url": "http://127.0.0.1:9/notice"}
    assert tenant.client.put("/paygov/v1/_sandbox/partners/P1", json=partner, headers=_key(tenant)).status_code == 200
    fields = {
        "LoaiBanTin": "INIT", "PhienBan": "1.0.6", "MaDoiTac": "P1", "MaThamChieu": reference,
        "SoTien": 150000, "MaTienTe": "VND", "LoaiHinhThanhToan": "PAY", "MaKenhThanhToan": "WEB",
        "MaThietBi": "DESKTOP", "NgonNgu": "vi-VN", "MaNganHang": "SANDBOX_OK", "ThoiGianGD": "20260915103000",
        "ThongTinGiaoDich": "Nop le phi", "Ip": "203.0.113.7",
    }  # fmt: skip
    text = "|".join("" if fields.get(f) is None else str(fields[f]) for f in INIT_ORDER)
    signed = {**fields, "MaXacThuc": hmac.new(b"bench-partner-secret", text.encode(), hashlib.sha256).hexdigest()}
    assert tenant.client.post("/paygov/v1/payments", json=signed, headers=_key(tenant)).json()["error_code"] == "0"


def test_deliveries_of_every_service_are_merged_for_the_tenant(
    tenant: TenantCreds, secured_client: httpx.Client
) -> None:
    _open_paid_payment_with_unreachable_notice(tenant, "HS-NOTICE-1")
    merged = tenant.client.get("/_sandbox/deliveries", headers=_key(tenant)).json()
    assert merged["count"] == 1
    assert merged["deliveries"][0]["service"] == "payment"
    assert sum(merged["counts"]["payment"].values()) == 1
    assert set(merged["counts"]) == {"dossier", "payment"}
    other = create_tenant(secured_client)
    assert other.client.get("/_sandbox/deliveries", headers={"x-api-key": other.api_key}).json()["count"] == 0


def test_gateway_metrics_count_every_services_delivery_attempts(tenant: TenantCreds) -> None:
    _open_paid_payment_with_unreachable_notice(tenant, "HS-NOTICE-2")
    wanted = 'sandbox_delivery_attempts_total{outcome="retry",service="payment"}'
    deadline = time.monotonic() + 20  # the outbox worker sends within about a second
    text = ""
    while time.monotonic() < deadline and wanted not in text:
        text = tenant.client.get("/metrics").text
        time.sleep(0.2)
    assert wanted in text

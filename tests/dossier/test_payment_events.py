"""Payment → dossier contract: the dossier half (POST /_sandbox/payment-events)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from services.dossier.app import create_app
from services.dossier.settings import DossierSettings
from tests.dossier.conftest import DEV_UNIT, Province, record, wait_for
from tests.support import TenantClient, free_port, new_tenant


def event(code: str, txn: str = "GD0001", amount: int = 135000) -> dict[str, object]:
    return {
        "MaHoSo": code,
        "MaThamChieu": "TC-" + txn,
        "MaGiaoDich": txn,
        "MaDoiTac": "VNPAY",
        "SoTien": amount,
        "ThoiGianGD": "20241116103000",
        "TrangThaiGD": 1,
        "PhiLePhi": [{"TenPhiLePhi": "Lệ phí cấp GPLX", "SoTien": amount}],
    }


def test_payment_marks_the_dossier_paid_online_without_changing_status(province):
    fees = [{"TenPhiLePhi": "Lệ phí cấp GPLX", "MucPhi": 135000}]
    province.sync(record(MaTTHC="3.000346", DanhSachLePhi=fees, TrangThaiHoSo=2))
    code = record()["MaHoSo"]
    r = province.client.post("/_sandbox/payment-events", json=event(code))
    assert r.status_code == 200, r.text
    assert r.json()["error_code"] == 0
    data = province.lookup(code).json()["data"]
    assert data["DuocThanhToanTrucTuyen"] == 1
    assert data["ThanhToanTrucTuyen"][0]["MaGiaoDich"] == "GD0001"
    assert data["TrangThaiHoSo"] == 2


def test_repeated_payment_event_is_recorded_once(province):
    province.sync(record())
    code = record()["MaHoSo"]
    province.client.post("/_sandbox/payment-events", json=event(code))
    r = province.client.post("/_sandbox/payment-events", json=event(code))
    assert r.status_code == 200
    assert r.json()["error_code"] == 24
    assert len(province.lookup(code).json()["data"]["ThanhToanTrucTuyen"]) == 1


def test_payment_for_an_unknown_dossier_is_404_so_the_payer_retries(dossier):
    r = dossier.post("/_sandbox/payment-events", json=event(f"{DEV_UNIT}-241115-00077"))
    assert r.status_code == 404
    assert r.json()["error_code"] == 22


def test_payment_event_of_another_tenant_does_not_see_the_dossier(province, service_clients):
    from tests.support import TenantClient, new_tenant

    province.sync(record())
    other = TenantClient(service_clients["dossier"], new_tenant())
    assert other.post("/_sandbox/payment-events", json=event(record()["MaHoSo"])).status_code == 404


def test_failed_payment_event_is_refused(dossier):
    r = dossier.post("/_sandbox/payment-events", json={**event("x"), "TrangThaiGD": 2})
    assert r.json()["error_code"] == 20


def test_province_is_notified_of_the_payment(province, receiver):
    province.client.patch(f"/_sandbox/units/{DEV_UNIT}", json={"webhook_url": receiver.url})
    province.sync(record())
    province.client.post("/_sandbox/payment-events", json=event(record()["MaHoSo"]))
    wait_for(lambda: receiver.requests)
    payload = json.loads(receiver.requests[0]["body"])
    assert payload["event"] == "dossier.paid"
    assert payload["ThanhToan"]["MaGiaoDich"] == "GD0001"


def test_paying_is_refused_unless_the_dossier_waits_for_payment(province):
    province.sync(record(TrangThaiHoSo=4))
    r = province.client.post(f"/_sandbox/citizen-dossiers/{record()['MaHoSo']}/pay", json={})
    assert r.json()["error_code"] == 23
    assert r.json()["details"][0]["rule"] == "payment_not_requested"


def test_paying_a_dossier_without_fees_is_refused(province):
    province.sync(record(TrangThaiHoSo=6))
    r = province.client.post(f"/_sandbox/citizen-dossiers/{record()['MaHoSo']}/pay", json={})
    assert r.json()["error_code"] == 20
    assert r.json()["details"][0]["field"] == "DanhSachLePhi"


@pytest.fixture(scope="module")
def portal_without_payment(database_urls, tmp_path_factory):
    """A dossier service whose payment platform is down (nothing listens on its port)."""
    settings = DossierSettings(
        database_url=database_urls["dossier"],
        data_dir=tmp_path_factory.mktemp("nopay"),
        payment_url=f"http://127.0.0.1:{free_port()}",
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def test_paying_while_the_payment_platform_is_down_is_code_33(portal_without_payment):
    province = Province(TenantClient(portal_without_payment, new_tenant()))
    fees = [{"TenPhiLePhi": "Lệ phí cấp GPLX", "MucPhi": 135000}]
    assert province.sync(record(MaTTHC="3.000346", DanhSachLePhi=fees, TrangThaiHoSo=6)).json()["error_code"] == 0
    r = province.client.post(f"/_sandbox/citizen-dossiers/{record()['MaHoSo']}/pay", json={})
    assert (r.status_code, r.json()["error_code"]) == (502, 33), r.text

"""The province's CI suite: its one-stop system tested against the sandbox with the vnsandbox
pytest plugin. No conftest: the fixtures come from the installed plugin."""

from __future__ import annotations

import pytest
from mot_cua import MotCuaTinh

from vnsandbox_pytest import DVCQGError, JournalAssertionError, VNeIDError


@pytest.fixture
def system(vnsandbox_tenant, dvcqg):
    """The system under test, configured with the throwaway tenant's URL and API key."""
    mot_cua = MotCuaTinh(vnsandbox_tenant.gateway_url, vnsandbox_tenant.api_key)
    yield mot_cua
    mot_cua.close()


@pytest.fixture
def citizen(vneid):
    """A level-2 citizen of the tenant who has logged in with VNeID."""
    person = vneid.persona(HoVaTen="Trần Thị Thu", NgayThangNamSinh="19920314", GioiTinh="Nữ")
    return vneid.login(person["SoDinhDanh"], level=2).userinfo


def test_citizen_logs_in_with_vneid_at_level_2(vneid):
    person = vneid.persona(HoVaTen="Lê Văn Hùng", NgayThangNamSinh="19850720", GioiTinh="Nam")
    login = vneid.login(person["SoDinhDanh"], level=2)
    assert login.userinfo["SoDinhDanh"] == person["SoDinhDanh"]
    assert login.id_claims["acr"] == "2"


def test_level_1_citizen_is_refused_where_level_2_is_required(vneid):
    person = vneid.persona(HoVaTen="Phạm Văn Tâm", NgayThangNamSinh="19900101", GioiTinh="Nam", MucDoXacThuc=1)
    with pytest.raises(VNeIDError) as refused:
        vneid.login(person["SoDinhDanh"], level=2)
    assert refused.value.code == "unmet_authentication_requirements"


def test_received_application_is_synced_once_to_the_portal(system, citizen, dvcqg, journal):
    received = system.receive(citizen)
    assert received["reply"]["error_code"] == 0
    journal.assert_called("POST", "/dvcqg/v1/api/service", body_contains=received["MaHoSo"], times=1)
    assert dvcqg.lookup(received["MaHoSo"])["TrangThaiHoSo"] == 2


def test_sync_survives_one_busy_portal_reply(system, citizen, dvcqg, faults, journal):
    faults.add("error", api="dvcqg", path="/api/service", next_n=1, status=503)
    received = system.receive(citizen)
    journal.assert_called("POST", "/dvcqg/v1/api/service", status=503, times=1)  # refused before it was read
    journal.assert_called("POST", "/dvcqg/v1/api/service", body_contains=received["MaHoSo"], status=200, times=1)
    assert dvcqg.lookup(received["MaHoSo"])["TrangThaiHoSo"] == 2


def test_journal_failure_names_the_near_misses(system, citizen, journal):
    system.receive(citizen)
    with pytest.raises(JournalAssertionError, match="closest recorded calls") as failed:
        journal.assert_called("POST", "/dvcqg/v1/api/CapNhatTienDoHoSoMC")
    assert "path is /dvcqg/v1/api/service" in str(failed.value)


def test_unknown_procedure_is_refused_with_dvcqg_code_20(dvcqg):
    with pytest.raises(DVCQGError) as refused:
        dvcqg.sync(dvcqg.record(MaTTHC="9.999999"))
    assert refused.value.code == 20
    assert refused.value.records[0]["details"][0]["field"] == "MaTTHC"


def test_paid_fee_arrives_as_a_signed_notice(paygov, webhook_receiver):
    paygov.register(notice_url=webhook_receiver.url + "/paygov/notice")
    webhook_receiver.secrets.append(paygov.secret)
    payment = paygov.init(150_000)
    paygov.complete(payment["MaGiaoDich"], "success")
    [notice] = webhook_receiver.wait_for("NOTIFY")
    assert notice.json()["MaLoi"] == "00"
    assert paygov.verify(notice.json(), "NOTIFY")
    assert paygov.query(payment["MaThamChieu"])["TrangThaiGD"] == 1


def test_notice_signed_with_standard_webhooks(paygov, webhook_receiver):
    partner = paygov.register(notice_url=webhook_receiver.url, signature_scheme="standard-webhooks")
    webhook_receiver.secrets.append(partner["standard_webhooks_secret"])
    payment = paygov.init(50_000)
    paygov.complete(payment["MaGiaoDich"], "success")
    [notice] = webhook_receiver.wait_for("NOTIFY")
    assert notice.verified_scheme == "standard-webhooks"


def test_unpaid_payment_expires_when_the_clock_moves(paygov, clock):
    payment = paygov.init(150_000)
    clock.advance("2d")
    assert paygov.query(payment["MaThamChieu"])["TrangThaiGD"] == 4

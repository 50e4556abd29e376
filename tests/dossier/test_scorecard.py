"""Scorecard preview (Bộ chỉ số 766): every formula on hand-built cases with known answers."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime

import pytest

from tests.dossier.conftest import progress, record

#: The test clock stands on 2024-12-05, after the period (November 2024): the period end counts.
NOW = datetime(2024, 12, 5, 3, 0, 0, tzinfo=UTC)
ONLINE = {"KenhThucHien": 2, "SoDienThoai": "0912345678", "TaiKhoanDuocXacThucVoiVNeID": 1}
LINKED_RESULT = [{"MaKetQua": "KQ1", "TenGiayTo": "Giấy khai sinh", "DuongDanTepTinKetQua": "https://kq.vn/1.pdf"}]


@pytest.fixture
def p(province):
    province.client.post("/_sandbox/clock", json={"offset_seconds": NOW.timestamp() - time.time()})
    return province


def card(province, **params):
    params = {"TuNgay": "20241101", "DenNgay": "20241130", **params}
    r = province.client.get("/_sandbox/scorecard", params=params)
    assert r.status_code == 200, r.text
    return {i["ChiSo"]: i for i in r.json()["data"]["ChiSo"]}


def received(seq, **kw):
    """Received 2024-11-01 08:00, due 2024-11-05 17:00, unless overridden."""
    return record(seq, **{"NgayTiepNhan": "20241101080000", "NgayHenTra": "20241105170000", **kw})


def ok(response):
    body = response.json()
    assert body["error_code"] == 0, body
    return body


def steps(p, seq, *moves):
    ok(p.progress([progress(seq, s, at) for s, at in moves]))


def test_zero_denominator_shows_na_without_marks(p):
    c = card(p)
    for code in ("1.4", "2.1", "3.3", "3.5", "3.6", "4.1", "4.2", "4.3", "4.4"):
        assert c[code]["TyLe"] == "N/A" and c[code]["Diem"] is None, code


def test_sync_rate_uses_the_larger_count(p):
    ok(p.sync([received(1), received(2)]))
    assert card(p)["1.4"]["TyLe"] == 100.0
    c = card(p, SoHoSoBaoCao=4)["1.4"]
    assert (c["TuSo"], c["MauSo"], c["TyLe"], c["Diem"]) == (2, 4, 50.0, 0.5)


def test_finished_before_due_is_on_time_and_after_is_late(p):
    ok(p.sync([received(1), received(2)]))
    steps(p, 1, (4, "20241102080000"), (9, "20241104080000"))
    steps(p, 2, (4, "20241102080000"), (9, "20241106080000"))
    c = card(p)["2.1"]
    assert (c["TuSo"], c["MauSo"], c["TyLe"]) == (1, 2, 50.0)
    assert [d["MaHoSo"] for d in c["HoSoKeoGiam"]] == [record(2)["MaHoSo"]]


def test_when_9_and_10_both_exist_9_counts(p):
    ok(p.sync(received(1)))
    steps(p, 1, (4, "20241102080000"), (9, "20241104080000"), (10, "20241108080000"))
    assert card(p)["2.1"]["TyLe"] == 100.0


def test_supplement_waiting_time_is_subtracted(p):
    ok(p.sync(received(1)))
    # Waits for the citizen 48 h (5 → 4); finishes 19 h after the due time: on time.
    steps(p, 1, (4, "20241102080000"), (5, "20241102090000"), (4, "20241104090000"), (9, "20241106120000"))
    assert card(p)["2.1"]["TyLe"] == 100.0


def test_two_supplement_requests_count_as_late(p):
    ok(p.sync(received(1)))
    steps(
        p,
        1,
        (4, "20241101090000"),
        (5, "20241101100000"),
        (4, "20241101110000"),
        (5, "20241101120000"),
        (4, "20241101130000"),
        (9, "20241101140000"),
    )
    c = card(p)["2.1"]
    assert c["TyLe"] == 0.0
    assert "2 supplement requests" in c["HoSoKeoGiam"][0]["reason"]


def test_unfinished_dossier_is_measured_at_the_end_of_the_period(p):
    ok(p.sync([received(1, NgayHenTra="20241125170000"), received(2, NgayHenTra="20241210170000")]))
    c = card(p)["2.1"]
    assert (c["TuSo"], c["MauSo"]) == (1, 2)
    assert "unfinished" in c["HoSoKeoGiam"][0]["reason"]


def test_withdrawn_and_refused_dossiers_end_processing(p):
    ok(p.sync([received(1), received(2, TrangThaiHoSo=1, NgayTiepNhan="20241101080000")]))
    steps(p, 1, (7, "20241103080000"))
    steps(p, 2, (3, "20241103080000"))
    assert card(p)["2.1"]["TyLe"] == 100.0


def test_average_processing_time_per_procedure(p):
    ok(p.sync([received(1), received(2), received(3)]))
    steps(p, 1, (4, "20241101090000"), (9, "20241103080000"))  # 2 days
    steps(p, 2, (4, "20241101090000"), (9, "20241105080000"))  # 4 days
    steps(p, 3, (4, "20241101090000"))  # unfinished: not counted
    assert card(p)["2.2"]["TheoThuTuc"]["1.001193"]["ThoiGianTrungBinhNgay"] == 3.0
    assert card(p)["2.2"]["TheoThuTuc"]["1.001193"]["SoHoSo"] == 2


def test_online_share_below_half_earns_proportional_marks(p):
    ok(
        p.sync(
            [
                received(1, **ONLINE),
                received(2, **ONLINE, DanhSachGiayToKetQua=[{"MaKetQua": "KQ2", "TenGiayTo": "Bản giấy"}]),
                received(3),
            ]
        )
    )
    c = card(p)["3.3"]
    assert (c["TuSo"], c["MauSo"], c["TyLe"], c["Diem"]) == (1, 3, 33.33, 1.33)


def test_online_share_of_half_or_more_earns_full_marks(p):
    ok(p.sync([received(1, **ONLINE), received(2, **ONLINE, DanhSachGiayToKetQua=LINKED_RESULT), received(3)]))
    c = card(p)["3.3"]
    assert (c["TyLe"], c["Diem"]) == (66.67, 2.0)


def test_fee_data_per_procedure_with_the_80_percent_rule(p):
    gplx_fee = [{"TenPhiLePhi": "Lệ phí cấp GPLX", "MucPhi": 135000}]
    ok(
        p.sync(
            [
                received(1, MaTTHC="3.000346", DanhSachLePhi=gplx_fee),  # has fees, fee data synced
                received(2, MaTTHC="3.000333", DanhSachLePhi=[]),  # judicial record: has fees, none synced
                received(3),  # birth registration: free, not counted
            ]
        )
    )
    c = card(p)["3.5"]
    assert (c["TuSo"], c["MauSo"], c["TyLe"]) == (1, 2, 50.0)
    assert c["Diem"] == pytest.approx(0.62, abs=0.01)
    assert c["HoSoKeoGiam"][0]["MaTTHC"] == "3.000333"


def test_online_payment_rate_leaves_out_free_and_all_zero_fee_lists(p):
    gplx_fee = [{"TenPhiLePhi": "Lệ phí cấp GPLX", "MucPhi": 135000}]
    ok(
        p.sync(
            [
                received(1, MaTTHC="3.000346", DanhSachLePhi=gplx_fee, DuocThanhToanTrucTuyen=1),
                received(2, MaTTHC="3.000346", DanhSachLePhi=gplx_fee),
                received(3, MaTTHC="2.000815", DanhSachLePhi=[{"MucPhi": 0}]),  # variable fee, synced all zero
                received(4),  # free procedure
            ]
        )
    )
    c = card(p)["3.6"]
    assert (c["TuSo"], c["MauSo"], c["TyLe"], c["Diem"]) == (1, 2, 50.0, 1.0)


def test_payment_event_counts_as_paid_online(p):
    gplx_fee = [{"TenPhiLePhi": "Lệ phí cấp GPLX", "MucPhi": 135000}]
    ok(p.sync(received(1, MaTTHC="3.000346", DanhSachLePhi=gplx_fee)))
    event = {"MaHoSo": record(1)["MaHoSo"], "MaGiaoDich": "GD1", "SoTien": 135000, "TrangThaiGD": 1}
    assert p.client.post("/_sandbox/payment-events", json=event).status_code == 200
    assert card(p)["3.6"]["TyLe"] == 100.0


def test_electronic_results_among_finished_dossiers(p):
    ok(
        p.sync(
            [
                received(1, TrangThaiHoSo=9, NgayKetThucXuLy="20241103080000", DanhSachGiayToKetQua=LINKED_RESULT),
                received(2, TrangThaiHoSo=9, NgayKetThucXuLy="20241103080000"),
                received(3),  # unfinished: not counted
            ]
        )
    )
    c = card(p)["4.1"]
    assert (c["TuSo"], c["MauSo"], c["TyLe"], c["Diem"]) == (1, 2, 50.0, 0.5)


def test_digitised_documents_and_results(p):
    attached = [{"TenGiayTo": "Tờ khai", "DuongDanTepTin": "https://f.vn/1.pdf"}]
    ok(
        p.sync(
            [
                received(1, TaiLieuNop=attached),
                received(2, TaiLieuNop=[*attached, {"TenGiayTo": "Bản giấy"}]),
                received(
                    3, TaiLieuNop=attached, TrangThaiHoSo=9, NgayKetThucXuLy="20241103080000"
                ),  # result not digitised
                received(
                    4,
                    TaiLieuNop=attached,
                    TrangThaiHoSo=9,
                    NgayKetThucXuLy="20241103080000",
                    DanhSachGiayToKetQua=LINKED_RESULT,
                ),
            ]
        )
    )
    c = card(p)["4.2"]
    assert (c["TuSo"], c["MauSo"], c["TyLe"], c["Diem"]) == (2, 4, 50.0, 0.62)


def test_reuse_of_digitised_components_with_the_80_percent_rule(p):
    ok(
        p.sync(
            [
                received(1, HoSoCoThanhPhanSoHoa=1),
                received(2, TaiLieuNop=[{"TenGiayTo": "CCCD", "DuocSoHoa": 1}]),
                received(3, TaiLieuNop=[{"TenGiayTo": "CCCD", "DuocSoHoa": 0}]),
                received(4),
                received(5, HoSoCoThanhPhanSoHoa=1),
            ]
        )
    )
    c = card(p)["4.3"]
    assert (c["TuSo"], c["MauSo"], c["TyLe"], c["Diem"]) == (3, 5, 60.0, 0.75)


def test_reuse_at_80_percent_earns_full_marks(p):
    ok(p.sync([received(i, HoSoCoThanhPhanSoHoa=1) for i in range(1, 5)] + [received(5)]))
    assert card(p)["4.3"]["Diem"] == 1.0


def test_documents_taken_from_the_national_store(p):
    ok(
        p.sync(
            [
                received(1, TaiLieuNop=[{"TenGiayTo": "Giấy khai sinh", "DuocLayTuKhoDMQG": 1}]),
                received(2, TaiLieuNop=[{"TenGiayTo": "Giấy khai sinh", "DuocLayTuKhoDMQG": 0}]),
            ]
        )
    )
    c = card(p)["4.4"]
    assert (c["TuSo"], c["MauSo"], c["TyLe"]) == (1, 2, 50.0)


def test_dossiers_received_outside_the_period_are_not_scored(p):
    ok(p.sync([received(1), record(2, NgayTiepNhan="20241201080000", NgayHenTra="20241203080000")]))
    assert card(p)["2.1"]["MauSo"] == 1


def test_province_reads_its_own_scorecard_with_its_session(p):
    ok(p.sync(received(1)))
    r = p.client.get(
        "/api/chiso766", params={"TuNgay": "20241101", "DenNgay": "20241130"}, headers={"session": p.token}
    )
    assert r.json()["data"]["SoHoSo"] == 1


def test_dossier_created_straight_to_a_closing_status_ends_at_its_own_end_time(p):
    # A province catching up in December syncs a dossier it stopped on 4 November (due the 5th).
    ok(p.sync(received(1, TrangThaiHoSo=8, NgayKetThucXuLy="20241104080000")))
    c = card(p)["2.1"]
    assert (c["TuSo"], c["MauSo"], c["HoSoKeoGiam"]) == (1, 1, [])


def test_dossier_updated_straight_to_a_closing_status_ends_at_its_own_end_time(p):
    ok(p.sync(received(1, TrangThaiHoSo=4)))
    update = {"MaHoSo": record(1)["MaHoSo"], "TrangThaiHoSo": 7, "NgayKetThucXuLy": "20241104080000"}
    ok(p.sync(update, updating=True))
    c = card(p)["2.1"]
    assert (c["TuSo"], c["MauSo"], c["HoSoKeoGiam"]) == (1, 1, [])


def test_closing_without_its_own_end_time_is_measured_when_synced(p):
    ok(p.sync(received(1, TrangThaiHoSo=8)))
    c = card(p)["2.1"]
    assert (c["TuSo"], c["MauSo"]) == (0, 1)


def csv_rows(response):
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["ChiSo", "Ma", "key", "value", "detail"]
    return rows[1:]


def test_scorecard_csv_has_the_json_figures(p):
    ok(p.sync([received(1), received(2)]))
    steps(p, 1, (4, "20241102080000"), (9, "20241104080000"))
    steps(p, 2, (4, "20241102080000"), (9, "20241106080000"))
    params = {"TuNgay": "20241101", "DenNgay": "20241130", "format": "csv"}
    rows = csv_rows(p.client.get("/_sandbox/scorecard", params=params))
    figures = {(c, k): v for c, m, k, v, _ in rows if not m}
    assert (figures[("2.1", "TuSo")], figures[("2.1", "MauSo")], figures[("2.1", "TyLe")]) == ("1", "2", "50.0")
    assert figures[("", "SoHoSo")] == "2"
    assert ["2.1", record(2)["MaHoSo"], "HoSoKeoGiam"] in [r[:3] for r in rows]
    assert ["2.2", "1.001193", "ThoiGianTrungBinhNgay"] in [r[:3] for r in rows]


def test_province_reads_its_scorecard_as_csv_with_its_session(p):
    ok(p.sync(received(1)))
    params = {"TuNgay": "20241101", "DenNgay": "20241130", "format": "csv"}
    rows = csv_rows(p.client.get("/api/chiso766", params=params, headers={"session": p.token}))
    assert ["1.4", "", "TuSo", "1"] in [r[:4] for r in rows]


def test_scorecard_csv_is_declared_in_openapi(dossier):
    paths = dossier.get("/openapi.json").json()["paths"]
    for path in ("/api/chiso766", "/_sandbox/scorecard"):
        assert "text/csv" in paths[path]["get"]["responses"]["200"]["content"], path

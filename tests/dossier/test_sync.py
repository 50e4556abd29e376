"""DongBoHoSoMC: creating and updating dossiers, one or a batch, and every validation rule."""

from __future__ import annotations

import pytest

from tests.dossier.conftest import DEV_UNIT, Province, record, register_unit


def test_single_dossier_is_created_and_can_be_looked_up(province):
    r = province.sync(record())
    assert r.status_code == 200, r.text
    assert r.json()["error_code"] == 0
    found = province.lookup(record()["MaHoSo"]).json()["data"]
    assert found["ChuHoSo"] == "Nguyễn Văn An"
    assert found["TrangThaiHoSo"] == 2


def test_creating_an_existing_dossier_answers_already_exists(province):
    province.sync(record())
    r = province.sync(record(ChuHoSo="Khác"))
    assert r.status_code == 409
    assert r.json()["error_code"] == 21
    assert province.lookup(record()["MaHoSo"]).json()["data"]["ChuHoSo"] == "Nguyễn Văn An"


def test_updating_a_missing_dossier_answers_not_found(province):
    r = province.sync(record(), updating=True)
    assert r.status_code == 404
    assert r.json()["error_code"] == 22


def test_update_changes_the_stored_fields(province):
    province.sync(record())
    r = province.sync({"MaHoSo": record()["MaHoSo"], "SoDienThoai": "0912345678"}, updating=True)
    assert r.json()["error_code"] == 0
    assert province.lookup(record()["MaHoSo"]).json()["data"]["SoDienThoai"] == "0912345678"


def test_update_with_an_illegal_status_change_is_refused_in_strict_mode(province):
    province.sync(record(TrangThaiHoSo=2))
    r = province.sync({"MaHoSo": record()["MaHoSo"], "TrangThaiHoSo": 9, "NgayKetThucXuLy": "20241116080000"}, True)
    assert r.json()["error_code"] == 23
    assert province.status_of(record()["MaHoSo"]) == 2


def test_mixed_batch_answers_each_record_and_keeps_the_good_ones(province):
    batch = [record(1), record(2, MaTTHC="0.000000"), record(3), record(4, NgayHenTra="2024")]
    r = province.sync(batch)
    assert r.status_code == 200
    body = r.json()
    assert body["error_code"] == 27
    assert (body["total"], body["accepted"], body["rejected"]) == (4, 2, 2)
    assert [item["error_code"] for item in body["data"]] == [0, 20, 0, 20]
    assert body["data"][1]["details"][0]["field"] == "MaTTHC"
    assert province.lookup(record(3)["MaHoSo"]).json()["error_code"] == 0
    assert province.lookup(record(2)["MaHoSo"]).json()["error_code"] == 22


def test_all_good_batch_answers_code_0(province):
    body = province.sync([record(i) for i in range(1, 11)]).json()
    assert body["error_code"] == 0 and body["accepted"] == 10


def test_same_dossier_twice_in_one_batch_refuses_the_second(province):
    body = province.sync([record(1), record(1)]).json()
    assert [i["error_code"] for i in body["data"]] == [0, 20]
    assert body["data"][1]["details"][0]["rule"] == "duplicate_in_batch"


def test_numbers_given_as_digit_strings_are_accepted(province):
    r = province.sync(record(KenhThucHien="1", TrangThaiHoSo="2", LoaiDoiTuong="1"))
    assert r.json()["error_code"] == 0


INVALID = [
    ({"MaHoSo": "H22-2024-1"}, "MaHoSo", "format"),
    ({"MaHoSo": f"{DEV_UNIT}-241399-00001"}, "MaHoSo", "format_date"),
    ({"MaHoSo": "000.00.09.H22-241115-00001"}, "MaHoSo", "unit_prefix"),
    ({"MaTTHC": "9.999999"}, "MaTTHC", "catalogue"),
    ({"NgayTiepNhan": "2024-11-15 08:00"}, "NgayTiepNhan", "date_format"),
    ({"NgayHenTra": "20241114080000"}, "NgayHenTra", "date_order"),
    ({"NgayNopHoSo": "20241116080000"}, "NgayTiepNhan", "date_order"),
    ({"TrangThaiHoSo": 9, "NgayKetThucXuLy": "20241114000000"}, "NgayKetThucXuLy", "date_order"),
    ({"SoGiayToChuHoSo": "12345"}, "SoGiayToChuHoSo", "cccd_format"),
    ({"SoGiayToChuHoSo": "999090012345"}, "SoGiayToChuHoSo", "cccd_province_code"),
    ({"KenhThucHien": 4}, "KenhThucHien", "enum"),
    ({"LoaiDoiTuong": 7}, "LoaiDoiTuong", "enum"),
    ({"TrangThaiHoSo": 11}, "TrangThaiHoSo", "enum"),
    ({"DuocThanhToanTrucTuyen": 3}, "DuocThanhToanTrucTuyen", "enum"),
    ({"ChuHoSo": ...}, "ChuHoSo", "required"),
    ({"MaTTHC": ...}, "MaTTHC", "required"),
    ({"TrangThaiHoSo": ...}, "TrangThaiHoSo", "required"),
    ({"NgayTiepNhan": ...}, "NgayTiepNhan", "required"),
    ({"NgayHenTra": ...}, "NgayHenTra", "required"),
    ({"SoGiayToChuHoSo": ...}, "SoGiayToChuHoSo", "required"),
    ({"TrangThaiHoSo": 9}, "NgayKetThucXuLy", "required"),
    ({"KenhThucHien": 2, "TaiKhoanDuocXacThucVoiVNeID": 1}, "SoDienThoai", "required"),
    ({"KenhThucHien": 2, "Email": "a@b.vn"}, "TaiKhoanDuocXacThucVoiVNeID", "required"),
    ({"KenhThucHien": 3, "DiaChiChuHoSo": ...}, "DiaChiChuHoSo", "required"),
    ({"Email": "not-an-email"}, "Email", "format"),
    ({"SoDienThoai": "12345"}, "SoDienThoai", "format"),
    ({"ChuHoSo": 5}, "ChuHoSo", "type"),
    ({"TaiLieuNop": "giấy tờ"}, "TaiLieuNop", "type"),
    ({"DanhSachLePhi": [{"MucPhi": -5}]}, "DanhSachLePhi[0].MucPhi", "amount"),
    ({"DanhSachLePhi": [{"TenPhiLePhi": "Lệ phí", "MucPhi": 10000}]}, "DanhSachLePhi", "fee_schedule"),
]


@pytest.mark.parametrize(("overrides", "field", "rule"), INVALID, ids=[f"{f}-{r}" for _, f, r in INVALID])
def test_invalid_record_is_refused_naming_field_and_rule_in_both_languages(province, overrides, field, rule):
    r = province.sync(record(**overrides))
    body = r.json()
    assert body["error_code"] == 20, body
    assert r.status_code == 422
    found = [d for d in body["details"] if d["field"] == field and d["rule"] == rule]
    assert found, body["details"]
    assert found[0]["message"] and found[0]["message_en"] and found[0]["message"] != found[0]["message_en"]


def test_sub_unit_prefix_is_accepted_from_the_parent(province):
    register_unit(province.client, "000.01.01.H22", MaDonViCha=DEV_UNIT)
    r = province.sync(record(MaHoSo="000.01.01.H22-241115-00001"))
    assert r.json()["error_code"] == 0


def test_sub_unit_cannot_sync_for_its_parent(dossier):
    register_unit(dossier, "000.01.01.H22", MaDonViCha=DEV_UNIT)
    child = Province(dossier, "000.01.01.H22", "u-000.01.01.H22", "pw-000.01.01.H22")
    body = child.sync(record()).json()
    assert body["details"][0]["rule"] == "unit_prefix"


def test_fee_matching_the_catalogue_is_accepted(province):
    # Driving licence issue: 135,000 VNĐ on the sandbox's fee schedule.
    fees = [{"TenPhiLePhi": "Lệ phí cấp GPLX", "MucPhi": 135000}]
    assert province.sync(record(MaTTHC="3.000346", DanhSachLePhi=fees)).json()["error_code"] == 0


def test_fee_depends_on_the_channel(province):
    # 2.001199: 100,000 online / postal, 50,000 direct.
    online = {"KenhThucHien": 2, "SoDienThoai": "0912345678", "TaiKhoanDuocXacThucVoiVNeID": 1}
    ok = province.sync(record(1, MaTTHC="2.001199", DanhSachLePhi=[{"MucPhi": 100000}], **online)).json()
    bad = province.sync(record(2, MaTTHC="2.001199", DanhSachLePhi=[{"MucPhi": 50000}], **online)).json()
    assert ok["error_code"] == 0
    assert bad["details"][0]["rule"] == "fee_schedule"


def test_variable_fee_accepts_any_non_negative_amount(province):
    # Certification (Chứng thực) is charged per page: no fixed total.
    assert province.sync(record(MaTTHC="2.000815", DanhSachLePhi=[{"MucPhi": 6000}])).json()["error_code"] == 0


def test_rejected_records_are_kept_for_reconciliation(province):
    province.sync(record(MaTTHC="9.999999"))
    report = province.client.get("/api/doisoat", headers={"session": province.token}).json()["data"]
    assert report["rejected_updates"][0]["LyDo"][0]["rule"] == "catalogue"
    assert report["rejected_by_rule"] == {"MaTTHC:catalogue": 1}


def test_search_filters_by_status_procedure_and_dates(province):
    province.sync(
        [
            record(1, TrangThaiHoSo=2),
            record(2, TrangThaiHoSo=4),
            record(3, MaTTHC="1.000656", TrangThaiHoSo=4, NgayTiepNhan="20241201080000", NgayHenTra="20241205080000"),
        ]
    )

    def codes(**filters):
        body = province.call({"service": "TraCuuHoSo", **filters}).json()
        return sorted(d["MaHoSo"][-1] for d in body["data"])

    assert codes(TrangThaiHoSo=4) == ["2", "3"]
    assert codes(MaTTHC="1.000656") == ["3"]
    assert codes(TuNgay="20241130") == ["3"]
    assert codes(DenNgay="20241115", TrangThaiHoSo=[2, 4]) == ["1", "2"]


def test_lookup_of_another_units_dossier_is_forbidden(dossier):
    Province(dossier).sync(record())
    register_unit(dossier, "000.00.02.H22")
    other = Province(dossier, "000.00.02.H22", "u-000.00.02.H22", "pw-000.00.02.H22")
    r = other.lookup(record()["MaHoSo"])
    assert r.status_code == 403
    assert r.json()["error_code"] == 17


def test_catalogue_lists_procedures_with_fee_schedule(dossier):
    body = dossier.get("/api/tthc", params={"q": "giấy phép lái xe"}).json()
    gplx = next(p for p in body["data"] if p["MaTTHC"] == "3.000346")
    assert gplx["LePhi"] == {"1": 135000, "2": 135000, "3": 135000}
    assert gplx["CanCuLePhi"] == "gplx"
    assert dossier.get("/api/tthc/0.0").json()["error_code"] == 22


def test_dossier_without_fee_data_is_accepted_even_when_the_procedure_has_fees(province):
    assert province.sync(record(MaTTHC="3.000333", DanhSachLePhi=[])).json()["error_code"] == 0


def test_reset_wipes_the_tenants_dossiers_and_the_dev_unit_comes_back(province):
    province.sync(record())
    assert province.client.post("/_sandbox/reset").status_code == 200
    fresh = Province(province.client)
    assert fresh.login().json()["error_code"] == 0
    assert fresh.lookup(record()["MaHoSo"]).json()["error_code"] == 22


def test_dossiers_of_one_tenant_are_invisible_to_another(province, service_clients):
    from tests.support import TenantClient, new_tenant

    province.sync(record())
    other = Province(TenantClient(service_clients["dossier"], new_tenant()))
    assert other.lookup(record()["MaHoSo"]).json()["error_code"] == 22
    assert other.sync(record()).json()["error_code"] == 0

"""A day's worth of dossiers in batches of 100, then reconciled (scaled down for CI)."""

from __future__ import annotations

from tests.dossier.conftest import DEV_UNIT, progress


def test_a_thousand_dossiers_in_batches_of_100_are_all_stored_and_reconciled(province):
    def rec(n: int) -> dict[str, object]:
        return {
            "MaHoSo": f"{DEV_UNIT}-241115-{n:05d}", "MaTTHC": "1.001193", "ChuHoSo": f"Công dân {n}",
            "SoGiayToChuHoSo": "001090012345", "NgayTiepNhan": "20241115080000", "NgayHenTra": "20241120170000",
            "TrangThaiHoSo": 2,
        }  # fmt: skip

    for batch in range(10):
        body = province.sync([rec(batch * 100 + i + 1) for i in range(100)]).json()
        assert (body["error_code"], body["accepted"]) == (0, 100)
    steps = [progress(n, 4, "20241115090000") for n in range(1, 101)]
    assert province.progress(steps).json()["accepted"] == 100
    report = province.client.get(
        "/api/doisoat", params={"TuNgay": "20241115", "DenNgay": "20241115"}, headers={"session": province.token}
    ).json()["data"]
    assert report["total"] == 1000
    assert {k: v for k, v in report["counts_by_status"].items() if v} == {"2": 900, "4": 100}
    assert report["sync_lag"]["progress"]["count"] == 100

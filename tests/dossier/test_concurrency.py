"""Concurrent calls: portal serials stay unique, and racing creations never answer 500."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.dossier.conftest import Province, citizen_filing, record


def test_concurrent_citizen_filings_get_distinct_codes(dossier):
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: dossier.post("/_sandbox/citizen-dossiers", json=citizen_filing()), range(16)))
    assert [r.status_code for r in replies] == [200] * 16
    assert len({r.json()["data"]["MaHoSo"] for r in replies}) == 16


def test_racing_creations_of_one_dossier_store_it_once(dossier):
    province = Province(dossier)
    province.login()
    with ThreadPoolExecutor(6) as pool:
        replies = list(pool.map(lambda _: province.sync(record()), range(6)))
    codes = sorted(r.json()["error_code"] for r in replies)
    assert codes.count(0) == 1
    assert set(codes) <= {0, 21, 30}
    assert province.lookup(record()["MaHoSo"], history=True).json()["data"]["LichSu"][0]["kind"] == "created"

"""Concurrent calls in one process: portal serials stay unique, racing creations of one
dossier answer as a sequential duplicate does, and parallel progress records of one dossier
apply one after the other (the real multi-process races are in ``test_processes.py``)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.dossier.conftest import Province, citizen_filing, progress, record

RACERS = 20


def race(call, n: int = RACERS) -> list:
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda i: call(i), range(n)))


def codes_of(replies) -> list[int]:
    return sorted(r.json()["error_code"] for r in replies)


def test_concurrent_citizen_filings_get_distinct_codes(dossier):
    replies = race(lambda _: dossier.post("/_sandbox/citizen-dossiers", json=citizen_filing()), 16)
    assert [r.status_code for r in replies] == [200] * 16
    assert len({r.json()["data"]["MaHoSo"] for r in replies}) == 16


def test_racing_creations_of_one_dossier_store_it_once_and_answer_already_exists(dossier):
    province = Province(dossier)
    province.login()
    replies = race(lambda _: province.sync(record()))
    assert codes_of(replies) == [0] + [21] * (RACERS - 1)
    assert sorted(r.status_code for r in replies) == [200] + [409] * (RACERS - 1)
    history = province.lookup(record()["MaHoSo"], history=True).json()["data"]["LichSu"]
    assert [e["kind"] for e in history] == ["created"]


def test_parallel_posts_of_one_idempotency_key_apply_once(province):
    province.login()
    province.sync(record())
    replies = race(lambda _: province.progress(progress(1, 4, "20241115090000", IdempotencyKey="step-4")))
    assert codes_of(replies) == [0] + [24] * (RACERS - 1)
    history = province.lookup(record()["MaHoSo"], history=True).json()["data"]["LichSu"]
    assert [e["kind"] for e in history] == ["created", "progress"]


def one_transition_wins(targets: list[int], replies) -> int:
    """Serial semantics: the first record applied moves 4 to its target W; every later record
    for W is applied too (staying in a status is legal), every other one is illegal from W."""
    outcomes = [(t, r.json()["error_code"]) for t, r in zip(targets, replies, strict=True)]
    applied = {t for t, c in outcomes if c == 0}
    assert len(applied) == 1, outcomes
    winner = applied.pop()
    assert sorted(outcomes) == sorted((t, 0 if t == winner else 23) for t in targets)
    return winner


def test_competing_transitions_from_one_status_apply_exactly_one(province):
    province.login()
    province.sync(record(TrangThaiHoSo=4))
    targets = [9 if i % 2 else 8 for i in range(RACERS)]
    replies = race(lambda i: province.progress(progress(1, targets[i], "20241116090000", IdempotencyKey=f"k{i}")))
    winner = one_transition_wins(targets, replies)
    history = province.lookup(record()["MaHoSo"], history=True).json()["data"]["LichSu"]
    steps = [(e["TrangThaiTruoc"], e["TrangThai"]) for e in history if e["kind"] == "progress"]
    assert steps == [(4, winner)] + [(winner, winner)] * (targets.count(winner) - 1)
    assert province.status_of(record()["MaHoSo"]) == winner


def test_competing_status_updates_from_one_status_apply_exactly_one(province):
    province.login()
    province.sync(record(TrangThaiHoSo=4))
    code = record()["MaHoSo"]
    closing = {8: {}, 9: {"NgayKetThucXuLy": "20241116090000"}}
    targets = [9 if i % 2 else 8 for i in range(RACERS)]
    replies = race(
        lambda i: province.sync({"MaHoSo": code, "TrangThaiHoSo": targets[i], **closing[targets[i]]}, updating=True)
    )
    winner = one_transition_wins(targets, replies)
    history = province.lookup(code, history=True).json()["data"]["LichSu"]
    steps = [(e["TrangThaiTruoc"], e["TrangThai"]) for e in history if e["kind"] == "updated"]
    assert steps == [(4, winner)] + [(winner, winner)] * (targets.count(winner) - 1)


def test_parallel_withdrawals_of_one_dossier_apply_once(province):
    province.login()
    province.sync(record(TrangThaiHoSo=4))
    code = record()["MaHoSo"]
    replies = race(lambda _: province.client.post(f"/_sandbox/citizen-dossiers/{code}/withdraw", json={}))
    assert codes_of(replies) == [0] + [23] * (RACERS - 1)
    history = province.lookup(code, history=True).json()["data"]["LichSu"]
    assert [e["kind"] for e in history] == ["created", "citizen_withdraw"]


def test_parallel_repeats_of_one_payment_event_record_it_once(province):
    province.login()
    province.sync(record(TrangThaiHoSo=6))
    code = record()["MaHoSo"]
    event = {"MaHoSo": code, "MaGiaoDich": "GD-RACE", "SoTien": 0, "TrangThaiGD": 1}
    replies = race(lambda _: province.client.post("/_sandbox/payment-events", json=event))
    assert codes_of(replies) == [0] + [24] * (RACERS - 1)
    history = province.lookup(code, history=True).json()["data"]["LichSu"]
    assert [e["kind"] for e in history].count("payment") == 1

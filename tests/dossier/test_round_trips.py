"""How many reads a sync call costs: the caller is resolved in one read, switches in one.

Counted per table the statements touch (the outbox worker's own statements touch neither)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from tests.dossier.conftest import DEV_UNIT, record, register_unit
from tests.support import statements

SUB_UNIT = "000.01.01.H22"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_caller_by_api_key_and_its_sub_units_are_read_in_one_statement(dossier):
    sub = register_unit(dossier, SUB_UNIT, MaDonViCha=DEV_UNIT, api_key="sub-unit-key")
    code = f"{SUB_UNIT}-241115-00001"
    r = dossier.post(
        "/api/service",
        json={"service": "DongBoHoSoMC", "isUpdating": "False", "data": [record(MaHoSo=code)]},
        headers=bearer(sub["api_key"]),
    )
    assert r.json()["error_code"] == 0
    with statements(dossier) as seen:
        r = dossier.post(
            "/api/service", json={"service": "TraCuuHoSo", "MaHoSo": code}, headers=bearer("dvcqg-dev-unit-key")
        )
    assert r.json()["error_code"] == 0 and r.json()["data"]["MaHoSo"] == code  # the parent reads its sub-unit's
    assert len([s for s in seen if "dossier_unit" in s]) == 1


def test_a_batch_with_no_switch_set_reads_the_switches_once(dossier):
    with statements(dossier) as seen:
        r = dossier.post(
            "/api/service",
            json={"service": "DongBoHoSoMC", "isUpdating": "False", "data": [record(1), record(2)]},
            headers=bearer("dvcqg-dev-unit-key"),
        )
    assert r.json()["error_code"] == 0
    assert len([s for s in seen if "sandbox_switch" in s]) == 1


def test_a_lookup_reads_in_two_statements_and_on_postgresql_in_one_outside_a_transaction(dossier, backend):
    """TraCuuHoSo only reads: the caller's unit family and the dossier, nothing else; on
    PostgreSQL both in one statement, without BEGIN/COMMIT around it."""
    code = f"{DEV_UNIT}-241115-00001"
    r = dossier.post(
        "/api/service",
        json={"service": "DongBoHoSoMC", "isUpdating": "False", "data": [record(MaHoSo=code)]},
        headers=bearer("dvcqg-dev-unit-key"),
    )
    assert r.json()["error_code"] == 0
    engine = dossier.app.state.db.engine  # type: ignore[union-attr]
    states: list[str] = []

    def transaction_state(conn: Any, *args: Any) -> None:
        dbapi = conn.connection.dbapi_connection
        states.append(dbapi.info.transaction_status.name if backend == "postgres" else "n/a")

    event.listen(engine, "before_cursor_execute", transaction_state)
    try:
        with statements(dossier) as seen:
            r = dossier.post(
                "/api/service", json={"service": "TraCuuHoSo", "MaHoSo": code}, headers=bearer("dvcqg-dev-unit-key")
            )
    finally:
        event.remove(engine, "before_cursor_execute", transaction_state)
    assert r.json()["error_code"] == 0 and r.json()["data"]["MaHoSo"] == code
    assert all(s.lstrip().upper().startswith("SELECT") for s in seen)
    if backend == "postgres":
        assert len(seen) == 1 and states == []  # one statement, none through the engine
        kept = [c.connection for c in dossier.app.state.db.reader._idle]  # type: ignore[union-attr]
        assert kept and all(c.autocommit and c.info.transaction_status.name == "IDLE" for c in kept)
    else:
        assert len(seen) == 2


def test_a_lookup_as_a_tenants_first_call_creates_the_development_unit(dossier):
    """The read-only unit of work cannot write: the call runs again in a full one."""
    r = dossier.post(
        "/api/service",
        json={"service": "TraCuuHoSo", "MaHoSo": f"{DEV_UNIT}-241115-09999"},
        headers=bearer("dvcqg-dev-unit-key"),
    )
    assert r.status_code == 404 and r.json()["error_code"] == 22  # authenticated, then not found
    units = dossier.get("/_sandbox/units").json()
    assert [u["MaDonVi"] for u in units["data"]] == [DEV_UNIT]

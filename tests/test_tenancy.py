"""Tenant scoping is structural: a request's session cannot see or change another tenant's rows,
even through a query written without a tenant filter."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from vnsandbox.context import _tenant
from vnsandbox.db import SHARED_TENANT, ControlBase, Database, Switch, get_session, scope_to_tenant


@pytest.fixture
def db() -> Iterator[Database]:
    database = Database("sqlite://", [])
    ControlBase.metadata.create_all(database.engine)
    with database.session() as session:
        for tenant in ("a", "b", SHARED_TENANT):
            session.add(Switch(tenant=tenant, name=f"S_{tenant}", scope="*", params={}))
    yield database
    database.dispose()


def names(session: Session) -> set[str]:
    return set(session.scalars(select(Switch.name)))


def test_an_unfiltered_query_of_a_scoped_session_sees_its_tenant_and_the_shared_rows(db: Database) -> None:
    with db.session() as session:
        scope_to_tenant(session, "a")
        assert names(session) == {"S_a", "S__base"}


def test_get_by_primary_key_does_not_reach_another_tenants_row(db: Database) -> None:
    with db.session() as session:
        b_id = session.scalar(select(Switch.id).where(Switch.tenant == "b"))
    with db.session() as session:
        scope_to_tenant(session, "a")
        assert session.get(Switch, b_id) is None


def test_an_unfiltered_update_changes_the_tenants_rows_only_and_never_the_shared_ones(db: Database) -> None:
    with db.session() as session:
        scope_to_tenant(session, "a")
        session.execute(update(Switch).values(scope="changed"))
    with db.session() as session:
        scopes = {s.tenant: s.scope for s in session.scalars(select(Switch))}
    assert scopes == {"a": "changed", "b": "*", SHARED_TENANT: "*"}


def test_an_unfiltered_delete_removes_the_tenants_rows_only(db: Database) -> None:
    with db.session() as session:
        scope_to_tenant(session, "a")
        for row in session.scalars(select(Switch)):
            if row.tenant != SHARED_TENANT:
                session.delete(row)
    with db.session() as session:
        assert names(session) == {"S_b", "S__base"}


def test_a_statement_may_read_across_tenants_only_by_saying_so(db: Database) -> None:
    with db.session() as session:
        scope_to_tenant(session, "a")
        everyone = set(session.scalars(select(Switch.name).execution_options(all_tenants=True)))
    assert everyone == {"S_a", "S_b", "S__base"}


def test_a_worker_session_is_not_scoped(db: Database) -> None:
    with db.session() as session:
        assert names(session) == {"S_a", "S_b", "S__base"}


def test_the_request_session_dependency_is_scoped_to_the_requests_tenant(db: Database) -> None:
    app = SimpleNamespace(state=SimpleNamespace(db=db))
    request = SimpleNamespace(app=app)
    token = _tenant.set("b")
    try:
        sessions = get_session(request)  # type: ignore[arg-type]
        session = next(sessions)
        assert names(session) == {"S_b", "S__base"}
        sessions.close()
    finally:
        _tenant.reset(token)

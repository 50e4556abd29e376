"""Switch parameters are checked when the switch is set: the code that applies a switch can
trust them (a string where a number is due, an unknown key or a wait of an hour is a 422)."""

from __future__ import annotations

import pytest

from services.dossier.schemas import SWITCH_PARAMS as DOSSIER
from services.identity.schemas import SWITCH_PARAMS as IDENTITY
from services.payment.schemas import SWITCH_PARAMS as PAYMENT
from tests.support import TenantClient

DECLARED = [("identity", n, m) for n, m in IDENTITY.items()]
DECLARED += [("dossier", n, m) for n, m in DOSSIER.items()]
DECLARED += [("payment", n, m) for n, m in PAYMENT.items()]


@pytest.fixture
def clients(identity: TenantClient, dossier: TenantClient, payment: TenantClient) -> dict[str, TenantClient]:
    return {"identity": identity, "dossier": dossier, "payment": payment}


@pytest.mark.parametrize(("service", "name", "model"), DECLARED, ids=[f"{s}-{n}" for s, n, _ in DECLARED])
def test_a_string_where_a_number_is_due_is_refused_naming_the_parameter(clients, service, name, model) -> None:  # type: ignore[no-untyped-def]
    field = next(iter(model.model_fields))
    reply = clients[service].put(f"/_sandbox/switches/{name}", json={"params": {field: "abc"}})
    assert reply.status_code == 422, reply.text
    assert reply.json()["error_code"] == "INVALID_SWITCH_PARAMS"
    assert [d["field"] for d in reply.json()["details"]] == [f"params.{field}"]


@pytest.mark.parametrize(("service", "name", "model"), DECLARED, ids=[f"{s}-{n}" for s, n, _ in DECLARED])
def test_an_unknown_parameter_is_refused(clients, service, name, model) -> None:  # type: ignore[no-untyped-def]
    reply = clients[service].put(f"/_sandbox/switches/{name}", json={"params": {"no_such_param": 1}})
    assert reply.status_code == 422, reply.text
    assert reply.json()["details"][0]["field"] == "params.no_such_param"


@pytest.mark.parametrize(("service", "name", "model"), DECLARED, ids=[f"{s}-{n}" for s, n, _ in DECLARED])
def test_a_value_beyond_its_bound_is_refused(clients, service, name, model) -> None:  # type: ignore[no-untyped-def]
    field = next(iter(model.model_fields))
    reply = clients[service].put(f"/_sandbox/switches/{name}", json={"params": {field: 10**10}})
    assert reply.status_code == 422, reply.text


@pytest.mark.parametrize(("service", "name", "model"), DECLARED, ids=[f"{s}-{n}" for s, n, _ in DECLARED])
def test_a_switch_without_parameters_keeps_its_defaults(clients, service, name, model) -> None:  # type: ignore[no-untyped-def]
    client = clients[service]
    reply = client.put(f"/_sandbox/switches/{name}", json={"remaining": 1})
    assert reply.status_code == 200, reply.text
    assert reply.json()["params"] == {}


def test_valid_parameters_are_stored_as_given(dossier: TenantClient) -> None:
    reply = dossier.put("/_sandbox/switches/sync_slow", json={"params": {"delay_ms": 1}, "remaining": 1})
    assert reply.status_code == 200, reply.text
    assert reply.json()["params"] == {"delay_ms": 1}


@pytest.mark.parametrize("service", ["identity", "dossier", "payment"])
def test_the_switch_list_names_each_switchs_parameters_with_their_bounds(clients, service) -> None:  # type: ignore[no-untyped-def]
    declared = {"identity": IDENTITY, "dossier": DOSSIER, "payment": PAYMENT}[service]
    listed = clients[service].get("/_sandbox/switches").json()["parameters"]
    assert set(listed) == set(declared)
    for name, model in declared.items():
        for field, info in model.model_fields.items():
            assert listed[name][field]["default"] == info.default
            assert listed[name][field]["type"] in ("number", "integer")
            assert "maximum" in listed[name][field] and "minimum" in listed[name][field]

"""PATCH bodies: a field left out keeps its value, ``null`` clears a nullable field and is a 422
naming the field for any other (never a database error)."""

from __future__ import annotations

import pytest

from services.identity.models import Client, Person
from services.identity.schemas import ClientPatch, PersonaPatch
from tests.identity.conftest import register


def wire_name(model: type[PersonaPatch] | type[ClientPatch], name: str) -> str:
    return model.model_fields[name].alias or name


def assert_null_refused(reply, field: str) -> None:
    assert reply.status_code == 422, reply.text
    body = reply.json()
    assert body["error_code"] == "VALIDATION_ERROR"
    assert [(d["field"], d["rule"]) for d in body["details"]] == [(field, "not_null")]
    assert body["message"] and body["message_en"]


@pytest.mark.parametrize("name", list(PersonaPatch.model_fields))
def test_null_in_a_persona_patch_clears_a_nullable_field_or_is_refused(identity, citizen, name):
    field = wire_name(PersonaPatch, name)
    r = identity.patch(f"/_sandbox/personas/{citizen['SoDinhDanh']}", json={field: None})
    if Person.__table__.c[name].nullable:
        assert r.status_code == 200, r.text
        assert r.json()[field] is None
    else:
        assert_null_refused(r, field)
        after = identity.get(f"/_sandbox/personas/{citizen['SoDinhDanh']}").json()
        assert after[field] == citizen[field]


@pytest.mark.parametrize("name", list(ClientPatch.model_fields))
def test_null_in_a_client_patch_is_refused(identity, name):
    rp = register(identity)
    before = identity.get(f"/_sandbox/clients/{rp.client_id}").json()
    assert not Client.__table__.c[name].nullable
    assert_null_refused(identity.patch(f"/_sandbox/clients/{rp.client_id}", json={name: None}), name)
    assert identity.get(f"/_sandbox/clients/{rp.client_id}").json() == before


def test_null_in_a_patch_of_the_built_in_client_is_refused_and_leaves_it_alone(identity):
    r = identity.patch("/_sandbox/clients/vnsandbox-dev", json={"redirect_uris": None})
    assert_null_refused(r, "redirect_uris")
    assert identity.get("/_sandbox/clients/vnsandbox-dev").json()["built_in"] is True


def test_a_public_client_registers_without_a_secret(identity):
    r = identity.post(
        "/_sandbox/clients",
        json={"client_id": "cong-dan-app", "redirect_uris": ["https://app.example.vn/cb"], "auth_methods": ["none"]},
    )
    assert r.status_code == 201, r.text
    assert r.json()["client_secret"] == ""

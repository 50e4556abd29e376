"""A unit may choose Standard Webhooks signatures (webhook-id / -timestamp / -signature) for its
webhooks; an off-the-shelf library (``standardwebhooks``) verifies what it receives."""

from __future__ import annotations

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.dossier.conftest import DEV_UNIT, citizen_filing, register_unit, wait_for


def _file(dossier) -> str:
    r = dossier.post("/_sandbox/citizen-dossiers", json=citizen_filing())
    assert r.status_code == 200, r.text
    return str(r.json()["data"]["MaHoSo"])


def _standard_unit(dossier, receiver, **extra) -> dict:
    r = dossier.patch(
        f"/_sandbox/units/{DEV_UNIT}",
        json={"webhook_url": receiver.url, "signature_scheme": "standard-webhooks", **extra},
    )
    assert r.status_code == 200, r.text
    unit = dossier.get(f"/_sandbox/units/{DEV_UNIT}").json()["data"]
    assert unit["signature_scheme"] == "standard-webhooks"
    return unit


def test_standard_webhooks_delivery_verifies_with_the_standardwebhooks_library(dossier, receiver):
    unit = _standard_unit(dossier, receiver)
    code = _file(dossier)
    wait_for(lambda: receiver.requests)
    req = receiver.requests[0]
    payload = Webhook(unit["standard_webhooks_secret"]).verify(req["body"], req["headers"])
    assert payload["MaHoSo"] == code
    assert req["headers"]["webhook-id"] == req["headers"]["x-sandbox-delivery-id"]
    assert "x-sandbox-signature" not in req["headers"]


def test_generated_unit_secret_is_already_a_standard_webhooks_secret(dossier, receiver):
    unit = _standard_unit(dossier, receiver)
    assert unit["webhook_secret"].startswith("whsec_")
    assert unit["standard_webhooks_secret"] == unit["webhook_secret"]


def test_a_chosen_non_base64_secret_is_published_in_its_whsec_form(dossier, receiver):
    unit = _standard_unit(dossier, receiver, webhook_secret="my-plain-secret")
    _file(dossier)
    wait_for(lambda: receiver.requests)
    req = receiver.requests[0]
    assert unit["standard_webhooks_secret"] != "my-plain-secret"
    assert Webhook(unit["standard_webhooks_secret"]).verify(req["body"], req["headers"])


def test_standard_webhooks_signature_fails_with_another_secret(dossier, receiver):
    _standard_unit(dossier, receiver)
    _file(dossier)
    wait_for(lambda: receiver.requests)
    req = receiver.requests[0]
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "QUJD" * 8).verify(req["body"], req["headers"])


def test_units_default_to_the_sandbox_signature(dossier):
    unit = register_unit(dossier, "000.00.02.H22")
    assert unit["signature_scheme"] == "sandbox"


def test_unknown_signature_scheme_is_refused_naming_the_field(dossier):
    r = dossier.patch(f"/_sandbox/units/{DEV_UNIT}", json={"signature_scheme": "hmac"})
    assert r.status_code == 400
    assert r.json()["error_code"] == 1
    assert r.json()["details"][0]["field"] == "signature_scheme"

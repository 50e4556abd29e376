"""A partner may choose Standard Webhooks signatures on its result notices (besides MaXacThuc);
an off-the-shelf library (``standardwebhooks``) verifies them with the partner's published key."""

from __future__ import annotations

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.payment.conftest import NOTIFY_ORDER, PartnerSetup, verify, wait_for
from tests.support import TenantClient


def _paid_notice(province: PartnerSetup):
    reply = province.init()
    province.complete(reply["MaGiaoDich"], "success", bank="VCB")
    [notice] = wait_for(province.notices, what="notice")
    return notice


def test_standard_webhooks_notice_verifies_with_the_standardwebhooks_library(province: PartnerSetup) -> None:
    partner = province.register(signature_scheme="standard-webhooks")
    notice = _paid_notice(province)
    body = Webhook(partner["standard_webhooks_secret"]).verify(notice.body, notice.headers)
    assert body["MaLoi"] == "00"
    assert verify(body, NOTIFY_ORDER)  # the platform's own checksum is still there
    assert notice.headers["webhook-id"] == notice.headers["x-sandbox-delivery-id"]
    assert "x-sandbox-signature" not in notice.headers


def test_standard_webhooks_notice_fails_with_another_key(province: PartnerSetup) -> None:
    province.register(signature_scheme="standard-webhooks")
    notice = _paid_notice(province)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "QUJD" * 8).verify(notice.body, notice.headers)


def test_partner_defaults_to_the_sandbox_signature(province: PartnerSetup) -> None:
    partner = province.register()
    assert partner["signature_scheme"] == "sandbox"
    notice = _paid_notice(province)
    assert "x-sandbox-signature" in notice.headers and "webhook-signature" not in notice.headers


def test_unknown_signature_scheme_is_refused_naming_the_field(payment: TenantClient) -> None:
    r = payment.put("/_sandbox/partners/P1", json={"secret": "secret-123", "signature_scheme": "hmac"})
    assert r.status_code == 422
    assert r.json()["details"][0]["field"].endswith("signature_scheme")

"""Schemathesis hooks of the contract pass (loaded through tests/contract/schemathesis.toml).

- DVCQG: the sync API and its reports get the `session` of the development unit, from a
  real `POST /api/login` (so the stateful phase reaches DongBoHoSoMC and the others).
- PayGov: every INIT / QUERY / REFUND message is sent as the development partner and signed
  with its secret (`MaXacThuc`), so the checksum check lets it through to the operation.
- KNOWN_FINDINGS: failures already filed as defects of the sandbox, each named by its
  operation, its failure kind and a predicate on the input that provokes it. A failure
  that matches one is written to ``$VNSB_CONTRACT_FINDINGS`` (so the test reports it) and
  not counted; anything else fails the run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
import schemathesis
from schemathesis import Case

from services.payment.protocol import REQUEST_TYPES, PartnerKey
from vnsandbox.vn.wiretime import VN_TZ, WIRE_TIME

DEV_UNIT = "000.00.01.H22"
DEV_USER = DEV_PASSWORD = "sandbox"
DEV_PARTNER = PartnerKey("SANDBOX", "sandbox-paygov-secret")


@schemathesis.auth(refresh_interval=300).apply_to(path_regex="^/api/(?!login$|tthc)")
class DvcqgSession:
    """A session of the development unit from the service's own login."""

    def get(self, case: Case, context: schemathesis.AuthContext) -> str:
        base = case.operation.schema.get_base_url().rstrip("/")
        reply = requests.post(
            f"{base}/api/login",
            json={"username": DEV_USER, "password": DEV_PASSWORD},
            headers={"MaDonVi": DEV_UNIT},
            timeout=30,
        )
        reply.raise_for_status()
        session: str = reply.json()["session"]
        return session

    def set(self, case: Case, data: str, context: schemathesis.AuthContext) -> None:
        case.headers = {**(case.headers or {}), "session": data}


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: Case, kwargs: dict[str, Any]) -> None:
    """Sign PayGov messages as the development partner."""
    body = case.body
    if case.operation.path != "/payments" or not isinstance(body, dict):
        return
    message_type = body.get("LoaiBanTin")
    if message_type not in REQUEST_TYPES:
        return
    body["MaDoiTac"] = DEV_PARTNER.code
    if not isinstance(body.get("ThoiGianGD"), str) or len(body["ThoiGianGD"]) != 14:
        body["ThoiGianGD"] = datetime.now(VN_TZ).strftime(WIRE_TIME)
    case.body = DEV_PARTNER.sign(message_type, body)


# --- Known findings ---------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    item: int
    operation: str
    failure: str
    matches: Callable[[Case], bool]
    what: str


#: Defects the sandbox still has, each excluded narrowly (operation, failure kind, input
#: predicate) until it is fixed. Empty: every finding fails the run.
KNOWN_FINDINGS: list[Finding] = []


def _record(finding: Finding, case: Case, response: Any) -> None:
    path = os.environ.get("VNSB_CONTRACT_FINDINGS")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as out:
        out.write(
            json.dumps(
                {
                    "item": finding.item,
                    "operation": case.operation.label,
                    "failure": finding.failure,
                    "what": finding.what,
                    "status": response.status_code,
                },
                ensure_ascii=False,
            )
            + "\n"
        )


@schemathesis.hook
def filter_failure(context: schemathesis.HookContext, failure: Any, case: Case, response: Any) -> bool:
    """Keep every failure except the known findings."""
    for finding in KNOWN_FINDINGS:
        if (
            finding.operation in (case.operation.label, "*")
            and type(failure).__name__ == finding.failure
            and finding.matches(case)
        ):
            _record(finding, case, response)
            return False
    return True

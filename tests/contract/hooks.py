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

from services.payment.protocol import REQUEST_TYPES, VN_TZ, WIRE_TIME, PartnerKey

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


def _depth(value: Any) -> int:
    depth, level = 0, [value]
    while level:
        depth += 1
        level = [
            v
            for item in level
            if isinstance(item, dict | list)
            for v in (item.values() if isinstance(item, dict) else item)
        ]
    return depth


def _integers(value: Any) -> list[int]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, dict):
        return [i for v in value.values() for i in _integers(v)]
    if isinstance(value, list):
        return [i for v in value for i in _integers(v)]
    return []


def huge_integer(case: Case) -> bool:
    """Some integer of the query or body is out of the 64-bit range (item 9)."""
    values = [*(case.query or {}).values(), case.body]
    for value in values:
        numbers = _integers(value)
        if isinstance(value, str) and value.lstrip("-").isdigit():
            numbers = [int(value)]
        if any(abs(n) >= 2**63 for n in numbers):
            return True
    return False


def deep_json(case: Case) -> bool:
    """The body nests deeper than the parsers manage (item 8)."""
    return _depth(case.body) > 100


def any_input(case: Case) -> bool:
    return True


def clock_out_of_range(case: Case) -> bool:
    """A clock move past what a date holds (item 9: `advance_seconds` 10**12)."""
    body = case.body if isinstance(case.body, dict) else {}
    moves = [body.get("advance_seconds"), body.get("offset_seconds")]
    return any(isinstance(m, int | float) and not isinstance(m, bool) and abs(m) >= 10**10 for m in moves)


def null_field(case: Case) -> bool:
    """A PATCH body sets some field to null (item 12)."""
    return isinstance(case.body, dict) and any(v is None for v in case.body.values())


@dataclass(frozen=True)
class Finding:
    item: int
    operation: str
    failure: str
    matches: Callable[[Case], bool]
    what: str


#: Defects the sandbox still has (issue items), excluded narrowly until they are fixed.
KNOWN_FINDINGS: list[Finding] = [
    Finding(15, "*", "AllowHeaderMismatch", any_input, "405 replies list only some of the path's methods in Allow"),
    Finding(9, "*", "ServerError", huge_integer, "an integer >= 2**63 (or a clock move past year 9999) is a 500"),
    Finding(9, "*", "UndefinedStatusCode", huge_integer, "... answered 500, which no operation declares"),
    Finding(9, "POST /_sandbox/clock", "ServerError", clock_out_of_range, "a clock move of 10**10 s or more is a 500"),
    Finding(9, "POST /_sandbox/clock", "UndefinedStatusCode", clock_out_of_range, "... answered 500"),
    Finding(12, "PATCH /_sandbox/clients/{client_id}", "ServerError", null_field, "null in a field is a 500"),
    Finding(12, "PATCH /_sandbox/clients/{client_id}", "UndefinedStatusCode", null_field, "... answered 500"),
    Finding(12, "PATCH /_sandbox/personas/{number}", "ServerError", null_field, "null in a field is a 500"),
    Finding(12, "PATCH /_sandbox/personas/{number}", "UndefinedStatusCode", null_field, "... answered 500"),
    Finding(8, "*", "ServerError", deep_json, "JSON nested ~1000 deep is a 500"),
    Finding(8, "*", "UndefinedStatusCode", deep_json, "... answered 500, which no operation declares"),
]


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

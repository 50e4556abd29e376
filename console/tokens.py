"""The token debugger: a pasted JWT's header and claims, its signature checked against the
tenant's VNeID JWKS, and its expiry judged on the tenant's test clock (as the identity
service and the gateway judge it)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import RSAAlgorithm

from console.i18n import vn_time

#: Claims that are times (seconds since the epoch), shown also in the Vietnamese format.
TIME_CLAIMS = ("exp", "iat", "nbf", "auth_time")


@dataclass
class TokenReport:
    header: dict[str, Any] = field(default_factory=dict)
    claims: dict[str, Any] = field(default_factory=dict)
    #: Claim → its time in the Vietnamese format.
    times: dict[str, str] = field(default_factory=dict)
    #: ``valid``, ``invalid``, ``unknown_key`` or ``not_checkable`` (a gateway HS256 token).
    signature: str = ""
    signature_note: str = ""
    #: ``valid``, ``expired``, ``not_yet_valid`` or ``no_expiry``.
    expiry: str = ""
    #: Seconds left (negative: since it expired) on the tenant clock.
    seconds_left: float | None = None
    error: str = ""


def _segment(part: str) -> dict[str, Any]:
    raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def inspect(token: str, jwks: dict[str, Any] | None, now: datetime) -> TokenReport:
    token = "".join(token.split())
    report = TokenReport()
    parts = token.split(".")
    if len(parts) != 3:
        report.error = "Không phải JWT: cần ba phần ngăn bằng dấu chấm (not a JWT: three dot-separated parts)"
        return report
    try:
        report.header, report.claims = _segment(parts[0]), _segment(parts[1])
    except (ValueError, UnicodeDecodeError) as exc:
        report.error = f"Không đọc được tiêu đề hoặc nội dung (header or claims unreadable): {exc}"
        return report
    for name in TIME_CLAIMS:
        value = report.claims.get(name)
        if isinstance(value, int | float):
            report.times[name] = vn_time(float(value), seconds=True)
    _check_signature(report, token, jwks)
    _check_expiry(report, now)
    return report


def _check_signature(report: TokenReport, token: str, jwks: dict[str, Any] | None) -> None:
    alg = str(report.header.get("alg", ""))
    if alg != "RS256":
        report.signature = "not_checkable"
        report.signature_note = (
            f"Ký bằng {alg or '?'} với khóa bí mật của bên phát hành; chỉ bên đó kiểm tra được "
            f"(signed with {alg or '?'} by its issuer's secret key; only the issuer can check it)"
        )
        return
    kid = report.header.get("kid")
    keys = [k for k in (jwks or {}).get("keys", []) if isinstance(k, dict) and k.get("kid") == kid]
    if not keys:
        report.signature = "unknown_key"
        report.signature_note = f"JWKS của tenant không có khóa kid={kid} (the tenant's JWKS has no key kid={kid})"
        return
    key = RSAAlgorithm.from_jwk(json.dumps(keys[0]))
    if not isinstance(key, RSAPublicKey):
        report.signature = "invalid"
        report.signature_note = "JWKS holds a private key (khóa trong JWKS không phải khóa công khai)"
        return
    try:
        jwt.decode(
            token,
            key=key,
            algorithms=["RS256"],
            options={"verify_exp": False, "verify_aud": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.InvalidTokenError as exc:
        report.signature = "invalid"
        report.signature_note = str(exc)
        return
    report.signature = "valid"
    report.signature_note = f"kid={kid}"


def _check_expiry(report: TokenReport, now: datetime) -> None:
    now_s = now.astimezone(UTC).timestamp()
    exp, nbf = report.claims.get("exp"), report.claims.get("nbf")
    if isinstance(nbf, int | float) and now_s < nbf:
        report.expiry = "not_yet_valid"
    elif not isinstance(exp, int | float):
        report.expiry = "no_expiry"
        return
    else:
        report.expiry = "valid" if now_s < exp else "expired"
    if isinstance(exp, int | float):
        report.seconds_left = exp - now_s

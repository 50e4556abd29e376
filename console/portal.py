"""The citizen portal's plain parts: the OpenID Connect login it makes as a relying party of
VNeID (its client in the tenant, PKCE, the checks on the ID token), the attachments it stores,
and what the citizen may do at each dossier status."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The portal's OIDC client in every tenant (registered on the first login).
CLIENT_ID = "cong-dvc-console"
CLIENT_NAME = "Cổng Dịch vụ công (bảng điều khiển huấn luyện)"
SCOPES = ["openid", "profile", "email", "phone"]
#: Attachments: at most this many files of at most this many bytes each.
MAX_FILES = 3
MAX_FILE_BYTES = 256 * 1024  # three of them stay under the gateway's 1 MB body limit
FINAL = frozenset({3, 7, 8, 10})


def client_secret(gateway_secret: str, tenant: str) -> str:
    """The portal client's secret in ``tenant``: derived, so no process needs to store it."""
    return hmac.new(gateway_secret.encode(), f"console portal client {tenant}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class LoginStart:
    state: str
    nonce: str
    verifier: str

    @classmethod
    def new(cls) -> LoginStart:
        return cls(secrets.token_urlsafe(16), secrets.token_urlsafe(16), secrets.token_urlsafe(48))

    @property
    def challenge(self) -> str:
        digest = hashlib.sha256(self.verifier.encode()).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def params(self, redirect_uri: str) -> dict[str, str]:
        return {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": redirect_uri,
            "scope": " ".join(SCOPES),
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": self.challenge,
            "code_challenge_method": "S256",
        }


def id_token_problem(claims: dict[str, Any], nonce: str, signature: str, expiry: str) -> str:
    """Why the portal refuses an ID token (empty: it is accepted)."""
    if signature != "valid":
        return f"chữ ký ID token không hợp lệ ({signature})"
    if expiry != "valid":
        return f"ID token hết hạn ({expiry})"
    aud = claims.get("aud")
    if CLIENT_ID not in (aud if isinstance(aud, list) else [aud]):
        return "ID token dành cho ứng dụng khác (aud)"
    if claims.get("nonce") != nonce:
        return "nonce của ID token không khớp"
    return ""


def actions(status: int, paid: bool = False) -> set[str]:
    """What the citizen may do at a status: withdraw before the end, supplement at 5, pay at 6
    (unless the fees are paid already: the dossier stays at 6 until the province moves it on)."""
    out = set() if status in FINAL else {"withdraw"}
    if status == 5:
        out.add("supplement")
    if status == 6 and not paid:
        out.add("pay")
    return out


_SAFE = re.compile(r"[^\w.\- ]+", re.UNICODE)


class Attachments:
    """Small files citizens attach, kept under ``<data_dir>/console-files/<tenant>/``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, tenant: str, name: str, content: bytes) -> str:
        file_id = uuid.uuid4().hex
        folder = self.root / tenant
        folder.mkdir(parents=True, exist_ok=True)
        (folder / file_id).write_bytes(content)
        (folder / f"{file_id}.name").write_text(_SAFE.sub("_", name)[:120] or "tep", encoding="utf-8")
        return file_id

    def get(self, tenant: str, file_id: str) -> tuple[str, bytes] | None:
        if not re.fullmatch(r"[0-9a-f]{32}", file_id):
            return None
        path = self.root / tenant / file_id
        if not path.exists():
            return None
        return (self.root / tenant / f"{file_id}.name").read_text(encoding="utf-8"), path.read_bytes()


#: What the portal tells a citizen when VNeID does not answer during the login (Vietnamese, English).
VNEID_UNAVAILABLE = (
    "VNeID đang gián đoạn nên chưa đăng nhập được. Vui lòng thử lại sau ít phút.",
    "VNeID is interrupted, so you could not log in. Please try again in a few minutes.",
)
#: OpenID Connect errors VNeID may send back to the callback, in the citizen's words.
LOGIN_ERRORS = {
    "temporarily_unavailable": VNEID_UNAVAILABLE,
    "server_error": VNEID_UNAVAILABLE,
    "access_denied": ("Bạn đã hủy đăng nhập trên VNeID.", "You cancelled the login on VNeID."),
}


def vneid_down(status: int) -> bool:
    """Whether a refused call to VNeID means VNeID is not answering (an outage, overload), not a
    problem of this login."""
    return status >= 500 or status == 429


def payment_attempts(payments: list[dict[str, Any]], code: str) -> list[dict[str, Any]]:
    """The payments opened for dossier ``code`` (PayGov's view of each, as QUERY answers it),
    newest first, each with ``failed`` (an unsuccessful end: ``TrangThaiGD`` 4)."""
    mine = [p for p in payments if isinstance(p, dict) and p.get("MaHoSo") == code]
    mine.sort(key=lambda p: str(p.get("ThoiGianKhoiTao") or ""), reverse=True)
    return [p | {"failed": str(p.get("TrangThaiGD")) == "4"} for p in mine]

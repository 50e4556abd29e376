"""Typed clients of the three platforms, through the gateway as one tenant.

Each does the platform's chores for the test: VNeID the OIDC dance (PKCE, headless login, ID token
checked against the JWKS), DVCQG the session (logs in, logs in again when it expires), PayGov the
``MaXacThuc`` checksums (signs requests, verifies replies and notices). Errors are raised as
:mod:`vnsandbox_pytest.errors` types carrying the platform's own code and message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt

from vnsandbox_pytest.errors import DVCQGError, PayGovError, VNeIDError, raise_for

VIETNAM = timedelta(hours=7)
REDIRECT_URI = "http://localhost:3000/callback"
DEV_UNIT = "000.00.01.H22"


def wire_time(at: datetime | None = None) -> str:
    """``yyyyMMddHHmmss`` in Asia/Ho_Chi_Minh, as the platforms write times."""
    return ((at or datetime.now(UTC)) + VIETNAM).strftime("%Y%m%d%H%M%S")


@dataclass
class Login:
    """The outcome of a VNeID login: the token reply, the checked ID token's claims, userinfo."""

    tokens: dict[str, Any]
    id_claims: dict[str, Any]
    userinfo: dict[str, Any]

    @property
    def access_token(self) -> str:
        return str(self.tokens["access_token"])


class VNeID:
    """VNeID SSO and the population database as a relying party of the tenant sees them."""

    def __init__(self, http: httpx.Client, prefix: str = "/vneid/v1") -> None:
        self.http = http
        self.prefix = prefix
        self.client: dict[str, Any] | None = None
        self._meta: dict[str, Any] | None = None

    @property
    def metadata(self) -> dict[str, Any]:
        if self._meta is None:
            self._meta = raise_for(self.http.get(f"{self.prefix}/.well-known/openid-configuration"), VNeIDError)
        assert self._meta is not None
        return self._meta

    def register_client(self, redirect_uri: str = REDIRECT_URI, **extra: Any) -> dict[str, Any]:
        """An OIDC client of the tenant (``client_secret_basic``, PKCE), used by :meth:`login`."""
        body = {
            "client_id": "kit-" + secrets.token_hex(6),
            "redirect_uris": [redirect_uri],
            "scopes": ["openid", "profile"],
            "grant_types": ["authorization_code", "refresh_token"],
            "auth_methods": ["client_secret_basic"],
            **extra,
        }
        self.client = raise_for(self.http.post(f"{self.prefix}/_sandbox/clients", json=body), VNeIDError)
        assert self.client is not None
        return self.client

    def persona(self, **fields: Any) -> dict[str, Any]:
        """A synthetic citizen of the tenant (``HoVaTen``, ``NgayThangNamSinh``, ``GioiTinh``, …)."""
        body = {"HoVaTen": "Nguyễn Văn An", "NgayThangNamSinh": "19900101", "GioiTinh": "Nam", **fields}
        person: dict[str, Any] = raise_for(self.http.post(f"{self.prefix}/_sandbox/personas", json=body), VNeIDError)
        return person

    def authorize(self, cccd: str, level: int | None = None, scope: str = "openid profile") -> tuple[str, str, str]:
        """The browser's part, headless: returns ``(code, verifier, nonce)``; a refusal raises."""
        client = self.client or self.register_client()
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        params = {
            "response_type": "code",
            "client_id": client["client_id"],
            "redirect_uri": client["redirect_uris"][0],
            "scope": scope,
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "login_hint": cccd,
        }
        if level is not None:
            params["acr_values"] = str(level)
        resp = self.http.get(self.metadata["authorization_endpoint"], params=params, follow_redirects=False)
        if resp.status_code != 302:
            raise_for(resp, VNeIDError)
            raise VNeIDError(resp.status_code, "unexpected_reply", resp.text[:300])
        query = {k: v[0] for k, v in parse_qs(urlsplit(resp.headers["location"]).query).items()}
        if "error" in query:
            raise VNeIDError(302, query["error"], query.get("error_description", ""), query)
        if query.get("state") != state:
            raise VNeIDError(302, "state_mismatch", "the redirect's state is not the one sent", query)
        return query["code"], verifier, nonce

    def login(self, cccd: str, level: int | None = None, scope: str = "openid profile") -> Login:
        """Authorization code + PKCE end to end: tokens, the ID token verified, userinfo read."""
        code, verifier, nonce = self.authorize(cccd, level, scope)
        assert self.client is not None
        tokens = raise_for(
            self.http.post(
                self.metadata["token_endpoint"],
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": self.client["redirect_uris"][0],
                    "code_verifier": verifier,
                },
                auth=(self.client["client_id"], self.client["client_secret"]),
            ),
            VNeIDError,
        )
        claims = self.verify_id_token(tokens["id_token"])
        if claims.get("nonce") != nonce:
            raise VNeIDError(200, "nonce_mismatch", "the ID token's nonce is not the one sent", claims)
        return Login(tokens, claims, self.userinfo(tokens["access_token"]))

    def verify_id_token(self, id_token: str) -> dict[str, Any]:
        """The ID token's claims, its RS256 signature, issuer, audience and expiry checked."""
        assert self.client is not None
        keys = jwt.PyJWKSet.from_dict(raise_for(self.http.get(self.metadata["jwks_uri"]), VNeIDError))
        kid = jwt.get_unverified_header(id_token).get("kid")
        key = next((k for k in keys.keys if k.key_id == kid), None)
        if key is None:
            raise VNeIDError(200, "unknown_kid", f"no key {kid!r} in the JWKS")
        claims: dict[str, Any] = jwt.decode(
            id_token,
            key.key,
            algorithms=["RS256"],
            audience=self.client["client_id"],
            issuer=self.metadata["issuer"],
            leeway=60,
        )
        return claims

    def userinfo(self, access_token: str) -> dict[str, Any]:
        resp = self.http.get(self.metadata["userinfo_endpoint"], headers={"Authorization": f"Bearer {access_token}"})
        info: dict[str, Any] = raise_for(resp, VNeIDError)
        return info


class DVCQG:
    """The dossier sync API as one unit: session handled, every non-zero ``error_code`` raised."""

    def __init__(
        self,
        http: httpx.Client,
        unit: str = DEV_UNIT,
        username: str = "sandbox",
        password: str = "sandbox",
        prefix: str = "/dvcqg/v1",
    ) -> None:
        self.http, self.unit, self.username, self.password, self.prefix = http, unit, username, password, prefix
        self.session: str | None = None
        self._serial = 0

    def ensure_unit(self, **extra: Any) -> dict[str, Any]:
        """The unit with the client's credentials (registered when the tenant has none by that code)."""
        resp = self.http.get(f"{self.prefix}/_sandbox/units/{self.unit}")
        if resp.status_code == 404:
            body = {"MaDonVi": self.unit, "username": self.username, "password": self.password, **extra}
            resp = self.http.post(f"{self.prefix}/_sandbox/units", json=body)
        elif extra:
            resp = self.http.patch(f"{self.prefix}/_sandbox/units/{self.unit}", json=extra)
            if resp.status_code < 400:
                resp = self.http.get(f"{self.prefix}/_sandbox/units/{self.unit}")
        unit: dict[str, Any] = self._checked(resp)["data"]
        return unit

    def _checked(self, resp: httpx.Response) -> dict[str, Any]:
        body = raise_for(resp, DVCQGError)
        if not isinstance(body, dict) or body.get("error_code", 0) != 0:
            code = body.get("error_code", -1) if isinstance(body, dict) else -1
            message = str(body.get("message", "")) if isinstance(body, dict) else str(body)
            english = str(body.get("message_en", "")) if isinstance(body, dict) else ""
            raise DVCQGError(resp.status_code, code, message, body, english)
        return body

    def login(self) -> str:
        resp = self.http.post(
            f"{self.prefix}/api/login",
            json={"username": self.username, "password": self.password},
            headers={"MaDonVi": self.unit},
        )
        self.session = str(self._checked(resp)["session"])
        return self.session

    def call(self, service: str, **body: Any) -> dict[str, Any]:
        """``POST /api/service`` with ``{"service": service, **body}``; logs in (again) as needed."""
        for attempt in (1, 2):
            session = self.session or self.login()
            resp = self.http.post(
                f"{self.prefix}/api/service", json={"service": service, **body}, headers={"session": session}
            )
            try:
                return self._checked(resp)
            except DVCQGError as exc:
                if exc.code in (12, 13) and attempt == 1:  # session expired / unknown: log in again
                    self.session = None
                    continue
                raise
        raise AssertionError("unreachable")

    def new_code(self) -> str:
        """A fresh ``MaHoSo`` of the unit for today (``<unit>-yyMMdd-<5 digits>``)."""
        self._serial += 1
        return f"{self.unit}-{wire_time()[2:8]}-{secrets.randbelow(80000) + 10000:05d}"

    def record(self, **fields: Any) -> dict[str, Any]:
        """A dossier the portal accepts (birth registration, received today, direct), with overrides."""
        now = datetime.now(UTC)
        rec: dict[str, Any] = {
            "MaHoSo": self.new_code(),
            "MaTTHC": "1.001193",
            "TenTTHC": "Thủ tục đăng ký khai sinh",
            "KenhThucHien": 1,
            "ChuHoSo": "Nguyễn Văn An",
            "LoaiDoiTuong": 1,
            "SoGiayToChuHoSo": "001090012345",
            "DiaChiChuHoSo": "Số 1 Tràng Tiền, Hà Nội",
            "NgayTiepNhan": wire_time(now - timedelta(minutes=5)),
            "NgayHenTra": wire_time(now + timedelta(days=5)),
            "TrangThaiHoSo": 2,
            "DanhSachLePhi": [],
        }
        return rec | fields

    def sync(self, *records: dict[str, Any], updating: bool = False) -> dict[str, Any]:
        """``DongBoHoSoMC``: every record must be accepted, else :class:`DVCQGError` with ``records``."""
        return self.call("DongBoHoSoMC", isUpdating="True" if updating else "False", data=list(records))

    def progress(self, *records: dict[str, Any]) -> dict[str, Any]:
        """``CapNhatTienDoHoSoMC``: progress records (``MaHoSo``, ``TrangThai``, ``ThoiDiemXuLy``, …)."""
        return self.call("CapNhatTienDoHoSoMC", data=list(records))

    def lookup(self, code: str, history: bool = False) -> dict[str, Any]:
        """``TraCuuHoSo`` of one dossier: its ``data``."""
        data: dict[str, Any] = self.call("TraCuuHoSo", MaHoSo=code, LichSu=history)["data"]
        return data


class PayGov:
    """The payment platform as one partner: messages signed, replies and notices verified."""

    def __init__(self, http: httpx.Client, partner: str = "", secret: str = "", prefix: str = "/paygov/v1") -> None:
        self.http, self.prefix = http, prefix
        self.partner = partner or "KIT_" + secrets.token_hex(4).upper()
        self.secret = secret or secrets.token_urlsafe(24)
        self.config: dict[str, Any] = {}

    def register(self, notice_url: str = "", return_url: str = "", signature_scheme: str = "sandbox") -> dict[str, Any]:
        """Register (or replace) the partner with its secret, URLs and notice signature scheme."""
        body = {
            "name": "Hệ thống một cửa (kit)",
            "secret": self.secret,
            "notice_url": notice_url,
            "return_url": return_url,
            "signature_scheme": signature_scheme,
        }
        self.config = raise_for(
            self.http.put(f"{self.prefix}/_sandbox/partners/{self.partner}", json=body), PayGovError
        )
        return self.config

    def order(self, message_type: str) -> list[str]:
        if not self.config:
            self.register()
        return list(self.config["field_orders"][message_type])

    def checksum(self, fields: dict[str, Any], message_type: str) -> str:
        def text(v: Any) -> str:
            return "" if v is None else ("true" if v is True else "false" if v is False else str(v))

        message = "|".join(text(fields.get(f)) for f in self.order(message_type))
        algorithm = getattr(hashlib, self.config.get("algorithm", "sha256"))
        return hmac.new(self.secret.encode(), message.encode(), algorithm).hexdigest()

    def verify(self, message: dict[str, Any], message_type: str) -> bool:
        """Whether ``MaXacThuc`` of a reply or notice is the partner's checksum."""
        return hmac.compare_digest(self.checksum(message, message_type), str(message.get("MaXacThuc", "")))

    def _send(self, fields: dict[str, Any], reply_type: str) -> dict[str, Any]:
        signed = {**fields, "MaXacThuc": self.checksum(fields, str(fields["LoaiBanTin"]))}
        reply = raise_for(self.http.post(f"{self.prefix}/payments", json=signed), PayGovError)
        if str(reply.get("error_code")) not in ("0", "00"):
            code = reply.get("error_code")
            raise PayGovError(200, code, str(reply.get("message", reply.get("MoTaLoi", ""))), reply)
        if not self.verify(reply, reply_type):
            raise PayGovError(200, "CHECKSUM", "the reply's MaXacThuc does not verify with the partner's secret", reply)
        return dict(reply)

    def init(
        self, amount: int, reference: str | None = None, bank: str | None = None, **receipt: Any
    ) -> dict[str, Any]:
        """``INIT`` a payment of ``amount`` đồng; ``receipt`` goes into ``ThongTinBienLai`` (``MaHoSo``, …)."""
        fields: dict[str, Any] = {
            "LoaiBanTin": "INIT",
            "PhienBan": "1.0.6",
            "MaDoiTac": self.partner,
            "MaThamChieu": reference or "REF-" + uuid.uuid4().hex[:12],
            "SoTien": amount,
            "MaTienTe": "VND",
            "LoaiHinhThanhToan": "PAY",
            "MaKenhThanhToan": "WEB",
            "MaThietBi": "DESKTOP",
            "NgonNgu": "vi-VN",
            "ThoiGianGD": wire_time(),
            "ThongTinGiaoDich": "Nộp phí, lệ phí hồ sơ",
            "Ip": "203.0.113.7",
            "ThongTinBienLai": {
                "MaDichVu": 2,
                "HoTenNguoiNop": "Nguyễn Văn An",
                "PhiLePhi": [{"LoaiPhiLePhi": 2, "MaPhiLePhi": "LP01", "TenPhiLePhi": "Lệ phí", "SoTien": amount}],
                **receipt,
            },
        }
        if bank:
            fields["MaNganHang"] = bank
        return self._send(fields, "INIT_REPLY")

    def query(self, reference: str) -> dict[str, Any]:
        """``QUERY`` by ``MaThamChieu``: ``TrangThaiGD`` 1 success, 3 pending, 4 failed."""
        fields = {
            "LoaiBanTin": "QUERY",
            "PhienBan": "1.0.6",
            "MaDoiTac": self.partner,
            "MaThamChieu": reference,
            "ThoiGianGD": wire_time(),
        }
        return self._send(fields, "QUERY_REPLY")

    def complete(self, transaction_id: str, outcome: str = "success", bank: str = "VCB") -> dict[str, Any]:
        """The citizen's outcome on the payment page, headless (``success``, ``failure``, ``cancel``, …)."""
        resp = self.http.post(
            f"{self.prefix}/_sandbox/payments/{transaction_id}/complete", json={"outcome": outcome, "MaNganHang": bank}
        )
        body: dict[str, Any] = raise_for(resp, PayGovError)
        return body

"""Helpers for identity tests: a relying party that drives the provider without a browser."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support import TenantClient

REDIRECT = "https://rp.example.gov.vn/callback"
LOGOUT_REDIRECT = "https://rp.example.gov.vn/logged-out"


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


@dataclass
class RelyingParty:
    """A registered client of the provider and the calls a relying party makes."""

    idp: TenantClient
    client_id: str
    client_secret: str
    redirect_uri: str = REDIRECT
    auth_method: str = "client_secret_basic"

    def authorize(
        self, login: str | None = None, headers: dict[str, str] | None = None, **params: Any
    ) -> httpx.Response:
        query = {
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "response_type": "code",
            "scope": "openid profile",
            "state": secrets.token_urlsafe(8),
            "nonce": secrets.token_urlsafe(8),
        } | params
        query = {k: v for k, v in query.items() if v is not None}
        h = dict(headers or {})
        if login is not None:
            h["X-Sandbox-Login"] = login
        return self.idp.get("/oauth2/authorize", params=query, headers=h, follow_redirects=False)

    def code_for(self, number: str, **params: Any) -> str:
        r = self.authorize(login=number, **params)
        assert r.status_code == 302, r.text
        q = query_of(r.headers["location"])
        assert "code" in q, q
        return q["code"]

    def _auth(self, data: dict[str, str]) -> dict[str, Any]:
        if self.auth_method == "client_secret_basic":
            return {"auth": (self.client_id, self.client_secret), "data": data}
        if self.auth_method == "client_secret_post":
            return {"data": data | {"client_id": self.client_id, "client_secret": self.client_secret}}
        return {"data": data | {"client_id": self.client_id}}

    def token(self, **data: str) -> httpx.Response:
        return self.idp.post("/oauth2/token", **self._auth(data))

    def exchange(self, code: str, **data: str) -> httpx.Response:
        return self.token(grant_type="authorization_code", code=code, redirect_uri=self.redirect_uri, **data)

    def login(self, number: str, **params: Any) -> dict[str, Any]:
        """Authorization code flow end to end: the token response."""
        r = self.exchange(self.code_for(number, **params))
        assert r.status_code == 200, r.text
        tokens: dict[str, Any] = r.json()
        return tokens

    def userinfo(self, access_token: str) -> httpx.Response:
        return self.idp.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {access_token}"})

    def introspect(self, token: str) -> dict[str, Any]:
        r = self.idp.post("/oauth2/introspect", **self._auth({"token": token}))
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


def register(idp: TenantClient, **overrides: Any) -> RelyingParty:
    body = {
        "client_id": "rp-" + uuid.uuid4().hex[:8],
        "name": "Hệ thống một cửa điện tử tỉnh thử nghiệm",
        "redirect_uris": [REDIRECT],
        "post_logout_redirect_uris": [LOGOUT_REDIRECT],
        "scopes": ["openid", "profile", "email", "phone", "address", "population:verify"],
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"],
        "auth_methods": ["client_secret_basic"],
    } | overrides
    r = idp.post("/_sandbox/clients", json=body)
    assert r.status_code == 201, r.text
    data = r.json()
    method = data["auth_methods"][0]
    return RelyingParty(idp, data["client_id"], data["client_secret"], auth_method=method)


def persona(idp: TenantClient, **overrides: Any) -> dict[str, Any]:
    """Create a persona (a level-2 adult citizen unless told otherwise)."""
    body = {
        "HoVaTen": "Nguyễn Văn An",
        "NgayThangNamSinh": "19900115",
        "GioiTinh": "Nam",
        "DiaChiThuongTru": "Số 1, đường Lê Lợi, Phường Hoàn Kiếm, Thành phố Hà Nội",
        "SoDienThoai": "0912345678",
        "Email": "an.nguyen@example.vn",
        "MucDoXacThuc": 2,
    } | overrides
    r = idp.post("/_sandbox/personas", json=body)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


@pytest.fixture
def rp(identity: TenantClient) -> RelyingParty:
    return register(identity)


@pytest.fixture
def citizen(identity: TenantClient) -> dict[str, Any]:
    return persona(identity)

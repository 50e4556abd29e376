"""RS256 signing keys: generated at first start, kept in the database, rotated per tenant.

The base layer holds the first key (generated once per database). A tenant that rotates gets
its own key set: the key it was using is copied in as retired, a new key becomes active.
Retired keys stay in the JWKS until every token they signed has expired.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from services.identity.models import BASE_TENANT, SigningKey, aware


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_key(tenant: str, now: datetime) -> SigningKey:
    """A fresh 2048-bit RSA key; ``kid`` is its RFC 7638 thumbprint."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    thumb = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    kid = _b64(hashlib.sha256(thumb.encode()).digest())
    jwk.update({"kid": kid, "use": "sig", "alg": "RS256"})
    return SigningKey(tenant=tenant, kid=kid, private_pem=pem, public_jwk=jwk, created_at=now, retired_at=None)


@lru_cache(maxsize=256)
def private_key(pem: str) -> rsa.RSAPrivateKey:
    """Parsed private key (parsing costs more than signing, so it is cached)."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


@lru_cache(maxsize=256)
def public_key(jwk_json: str) -> rsa.RSAPublicKey:
    key = RSAAlgorithm.from_jwk(jwk_json)
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def ensure_base_key(session: Session, now: datetime) -> None:
    """Generate the base layer's first key if the database has none yet."""
    if session.scalar(select(SigningKey.id).where(SigningKey.tenant == BASE_TENANT).limit(1)) is None:
        session.add(new_key(BASE_TENANT, now))
        session.flush()


def key_set(session: Session, tenant: str) -> list[SigningKey]:
    """The keys of ``tenant``: its own after its first rotation, the base layer's before."""
    own = list(session.scalars(select(SigningKey).where(SigningKey.tenant == tenant).order_by(SigningKey.id)))
    if own:
        return own
    return list(session.scalars(select(SigningKey).where(SigningKey.tenant == BASE_TENANT).order_by(SigningKey.id)))


@dataclass(frozen=True)
class KeyData:
    """What signing and verifying need of a key, detached from the database session."""

    kid: str
    private_pem: str
    public_jwk: dict[str, Any]
    retired_at: datetime | None


#: Per-process cache of each tenant's key set for the hot paths (token, userinfo): loading the
#: keys was most of a token request's database time. A rotation or reset in this process
#: drops it once its unit of work commits (:func:`forget`); other replicas see the new key set
#: within CACHE_SECONDS, which is harmless: a retired key stays published and valid, and an
#: unknown ``kid`` makes the verifier reload.
CACHE_SECONDS = 2.0
_cache: dict[str, tuple[float, list[KeyData]]] = {}
#: Each tenant's JWKS, encoded, and until when (monotonic time) it holds: the cache's
#: lifetime, or less when a retired key leaves the set sooner.
_jwks_cache: dict[str, tuple[float, bytes]] = {}
_cache_lock = threading.Lock()
#: Bound of both caches (tenants); beyond it they start over.
CACHE_TENANTS = 10_000


def cached_key_set(session: Session, tenant: str, *, reload: bool = False) -> list[KeyData]:
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(tenant)
    if hit is not None and not reload and hit[0] > now:
        return hit[1]
    data = [
        KeyData(k.kid, k.private_pem, k.public_jwk, aware(k.retired_at) if k.retired_at else None)
        for k in key_set(session, tenant)
    ]
    with _cache_lock:
        if len(_cache) > CACHE_TENANTS:
            _cache.clear()
        _cache[tenant] = (now + CACHE_SECONDS, data)
    return data


def cached_jwks(tenant: str) -> bytes | None:
    """The tenant's encoded JWKS if this process holds a current one (no database needed)."""
    hit = _jwks_cache.get(tenant)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    return None


def jwks(session: Session, tenant: str, now: datetime, max_token_seconds: int) -> bytes:
    """The tenant's JWKS, read from the database and encoded: the active key and the retired keys
    whose tokens may still be valid at ``now`` (the tenant's clock). Kept for :func:`cached_jwks`
    until the cache's lifetime ends or the first retired key leaves the set."""
    started = time.monotonic()
    keys = published(session, tenant, now, max_token_seconds)
    body = json.dumps({"keys": [k.public_jwk for k in keys]}, ensure_ascii=False, separators=(",", ":")).encode()
    valid = CACHE_SECONDS
    for k in keys:
        if k.retired_at is not None:
            left = (aware(k.retired_at) + timedelta(seconds=max_token_seconds) - now).total_seconds()
            valid = min(valid, max(0.0, left))
    with _cache_lock:
        if len(_jwks_cache) > CACHE_TENANTS:
            _jwks_cache.clear()
        _jwks_cache[tenant] = (started + valid, body)
    return body


def forget(tenant: str, session: Session | None = None) -> None:
    """Drop the tenant's cached keys and JWKS (after a rotation, a reset or a move of its clock in
    this process): now, and again when ``session``'s unit of work commits, so a request that
    read the old keys in between cannot keep them."""
    with _cache_lock:
        _cache.pop(tenant, None)
        _jwks_cache.pop(tenant, None)
    if session is not None:
        event.listen(session, "after_commit", lambda _s: forget(tenant), once=True)


def cached_active_key(tenant: str) -> KeyData | None:
    """The tenant's active key if this process holds its current key set (no database needed);
    None when the cache must be filled first (:func:`active_key` does, in a unit of work)."""
    with _cache_lock:
        hit = _cache.get(tenant)
    if hit is None or hit[0] <= time.monotonic():
        return None
    live = [k for k in hit[1] if k.retired_at is None]
    return live[-1] if live else None


def active_key(session: Session, tenant: str) -> KeyData:
    keys = [k for k in cached_key_set(session, tenant) if k.retired_at is None]
    if not keys:
        raise RuntimeError("no active signing key (the service did not finish its start-up)")
    return keys[-1]


def published(session: Session, tenant: str, now: datetime, max_token_seconds: int) -> list[SigningKey]:
    """Keys to publish: the active one and retired ones whose tokens may still be valid."""
    horizon = now - timedelta(seconds=max_token_seconds)
    return [k for k in key_set(session, tenant) if k.retired_at is None or aware(k.retired_at) > horizon]


def verification_key(session: Session, tenant: str, kid: str, now: datetime, max_token_seconds: int) -> KeyData | None:
    """The published key ``kid`` (from the cache; reloaded once when the kid is not in it)."""
    horizon = now - timedelta(seconds=max_token_seconds)
    for reload in (False, True):
        for k in cached_key_set(session, tenant, reload=reload):
            if k.kid == kid and (k.retired_at is None or k.retired_at > horizon):
                return k
    return None


def sign(session: Session, tenant: str, claims: dict[str, Any], *, typ: str = "JWT", kid: str | None = None) -> str:
    """``claims`` signed (RS256) with the tenant's active key; ``kid`` puts another key id in the header."""
    return sign_with(active_key(session, tenant), claims, typ=typ, kid=kid)


def sign_with(key: KeyData, claims: dict[str, Any], *, typ: str = "JWT", kid: str | None = None) -> str:
    """``claims`` signed (RS256) with ``key``."""
    return jwt.encode(
        claims, private_key(key.private_pem), algorithm="RS256", headers={"kid": kid or key.kid, "typ": typ}
    )


def verified_claims(token: str, public_jwk: dict[str, Any]) -> dict[str, Any]:
    """The claims of ``token`` if ``public_jwk`` verifies its signature (times and audience are the
    caller's to check); raises :class:`jwt.PyJWTError` otherwise."""
    claims: dict[str, Any] = jwt.decode(
        token,
        public_key(json.dumps(public_jwk, sort_keys=True)),
        algorithms=["RS256"],
        options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False},
    )
    return claims


def rotate(session: Session, tenant: str, now: datetime) -> SigningKey:
    """Retire the tenant's active key and make a new one active."""
    own = list(session.scalars(select(SigningKey).where(SigningKey.tenant == tenant)))
    if not own:
        for base in key_set(session, BASE_TENANT):
            session.add(
                SigningKey(
                    tenant=tenant,
                    kid=base.kid,
                    private_pem=base.private_pem,
                    public_jwk=base.public_jwk,
                    created_at=base.created_at,
                    retired_at=base.retired_at,
                )
            )
        session.flush()
    for key in session.scalars(select(SigningKey).where(SigningKey.tenant == tenant, SigningKey.retired_at.is_(None))):
        key.retired_at = now
    fresh = new_key(tenant, now)
    session.add(fresh)
    session.flush()
    forget(tenant, session)
    return fresh

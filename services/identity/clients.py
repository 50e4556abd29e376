"""The client registry (relying parties: provinces' systems) and client authentication."""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import jwt
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from sqlalchemy import bindparam, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.identity import errors
from services.identity.models import BASE_TENANT, Client, UsedAssertion
from services.identity.settings import (
    DEV_CLIENT_ID,
    DEV_CLIENT_SECRET,
    DEV_POST_LOGOUT_REDIRECT_URIS,
    DEV_REDIRECT_URIS,
)
from vnsandbox.errors import Conflict, NotFound

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
POPULATION_SCOPE = "population:verify"
#: Scopes of a system's own access token (``client_credentials``), never of a citizen's login.
MACHINE_SCOPES = (POPULATION_SCOPE,)
OIDC_SCOPES = ("openid", "profile", "email", "phone", "address")
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")


def ensure_dev_client(session: Session) -> None:
    """The built-in development client of the embedded mode, in the base layer."""
    if find(session, BASE_TENANT, DEV_CLIENT_ID) is None:
        session.add(
            Client(
                tenant=BASE_TENANT,
                client_id=DEV_CLIENT_ID,
                client_secret=DEV_CLIENT_SECRET,
                name="Hệ thống phát triển (development client)",
                redirect_uris=list(DEV_REDIRECT_URIS),
                post_logout_redirect_uris=list(DEV_POST_LOGOUT_REDIRECT_URIS),
                scopes=[*OIDC_SCOPES, POPULATION_SCOPE],
                grant_types=list(GRANT_TYPES),
                auth_methods=["client_secret_basic", "client_secret_post"],
                jwks={},
                required_level=1,
                require_pkce=False,
            )
        )
        session.flush()


#: Built once (every token request reads it); it names the two tenants it reads itself (two
#: plain parameters: an expanding ``IN`` is rendered again at every execution).
_FIND = (
    select(Client)
    .where(
        Client.client_id == bindparam("client_id"),
        or_(Client.tenant == bindparam("tenant"), Client.tenant == bindparam("base")),
    )
    .execution_options(all_tenants=True)
)


def find(session: Session, tenant: str, client_id: str) -> Client | None:
    """The client as ``tenant`` sees it: its own registration, else the base layer's."""
    rows = session.scalars(_FIND, {"client_id": client_id, "tenant": tenant, "base": BASE_TENANT}).all()
    own = [r for r in rows if r.tenant == tenant]
    if own:
        return own[0]
    return rows[0] if rows else None


def listing(session: Session, tenant: str) -> list[Client]:
    rows = session.scalars(
        select(Client).where(Client.tenant.in_((tenant, BASE_TENANT))).order_by(Client.tenant != BASE_TENANT, Client.id)
    ).all()
    by_id: dict[str, Client] = {}
    for r in rows:  # tenant rows come last and override
        by_id[r.client_id] = r
    return list(by_id.values())


def get(session: Session, tenant: str, client_id: str) -> Client:
    client = find(session, tenant, client_id)
    if client is None:
        raise NotFound(f"No client {client_id!r}", f"Không có ứng dụng {client_id!r}", code="CLIENT_NOT_FOUND")
    return client


def create(session: Session, tenant: str, values: dict[str, Any]) -> Client:
    """Register a client for ``tenant``; a secret is generated when none is given."""
    if find(session, tenant, values["client_id"]) is not None:
        raise Conflict(
            f"Client {values['client_id']!r} already exists",
            f"Ứng dụng {values['client_id']!r} đã tồn tại",
            code="CLIENT_EXISTS",
        )
    values = dict(values)
    if not values.get("client_secret") and set(values.get("auth_methods", [])) & {
        "client_secret_basic",
        "client_secret_post",
    }:
        values["client_secret"] = secrets.token_urlsafe(32)
    client = Client(tenant=tenant, **values)
    session.add(client)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("Client already exists", "Ứng dụng đã tồn tại", code="CLIENT_EXISTS") from None
    return client


def update(session: Session, tenant: str, client_id: str, values: dict[str, Any]) -> Client:
    """Change a client; changing a base-layer client registers the tenant's own copy."""
    client = get(session, tenant, client_id)
    if client.tenant != tenant:
        copy = {c.key: getattr(client, c.key) for c in Client.__table__.columns if c.key not in ("id", "tenant")}
        client = Client(tenant=tenant, **copy)
        session.add(client)
    for key, value in values.items():
        setattr(client, key, value)
    session.flush()
    return client


def delete(session: Session, tenant: str, client_id: str) -> None:
    client = get(session, tenant, client_id)
    if client.tenant != tenant:
        raise Conflict(
            "The built-in client cannot be deleted; change it instead",
            "Không thể xóa ứng dụng dựng sẵn; hãy sửa nó",
            code="CLIENT_BUILT_IN",
        )
    session.delete(client)
    session.flush()


# -- client authentication at the token, introspection and revocation endpoints --------


@dataclass(frozen=True)
class Credentials:
    """What a request presented to authenticate its client."""

    authorization: str | None
    client_id: str | None
    client_secret: str | None
    assertion_type: str | None
    assertion: str | None


def basic_credentials(header: str) -> tuple[str, str]:
    try:
        raw = base64.b64decode(header.split(" ", 1)[1].strip(), validate=True).decode()
        cid, secret = raw.split(":", 1)
    except (ValueError, IndexError, UnicodeDecodeError):
        raise errors.invalid_client(
            "Malformed HTTP Basic credentials", "Thông tin xác thực Basic không hợp lệ", basic=True
        ) from None
    return unquote(cid), unquote(secret)


def presented(creds: Credentials) -> tuple[str, str, str | None]:
    """The authentication method a request uses (``none`` without any), the client id it names
    and its secret (None but for a secret); ``invalid_request`` for two methods at once,
    ``invalid_client`` for credentials that name no client or another one than ``client_id``."""
    basic = creds.authorization is not None and creds.authorization.lower().startswith("basic ")
    used = [
        m
        for m, present in (
            ("client_secret_basic", basic),
            ("client_secret_post", creds.client_secret is not None),
            ("private_key_jwt", creds.assertion is not None),
        )
        if present
    ]
    if len(used) > 1:
        raise errors.invalid_request(
            f"Use one client authentication method, not {', '.join(used)}",
            "Chỉ dùng một phương thức xác thực ứng dụng",
        )
    method = used[0] if used else "none"
    if method == "client_secret_basic":
        assert creds.authorization is not None
        client_id, secret = basic_credentials(creds.authorization)
    elif method == "private_key_jwt":
        client_id = _assertion_issuer(creds)
        secret = None
    else:
        client_id, secret = creds.client_id or "", creds.client_secret
    if creds.client_id is not None and creds.client_id != client_id:
        raise errors.invalid_client(
            "client_id does not match the credentials", "client_id không khớp thông tin xác thực"
        )
    if not client_id:
        raise errors.invalid_client("Client authentication is missing", "Thiếu xác thực ứng dụng", basic=True)
    return method, client_id, secret


def secret_matches(stored: str, given: str | None) -> bool:
    """Whether ``given`` is a client's ``stored`` secret (compared in constant time; a client
    without a secret matches none)."""
    return bool(stored) and secrets.compare_digest((given or "").encode(), stored.encode())


def authenticate(session: Session, tenant: str, creds: Credentials, audiences: list[str], now: datetime) -> Client:
    """The authenticated client, or ``invalid_client`` (401) naming what failed."""
    method, client_id, secret = presented(creds)
    basic = method == "client_secret_basic"
    client = find(session, tenant, client_id)
    if client is None:
        raise errors.invalid_client(f"Unknown client {client_id!r}", "Ứng dụng không tồn tại", basic=basic)
    if method not in client.auth_methods:
        raise errors.invalid_client(
            f"This client authenticates with {', '.join(client.auth_methods)}, not {method}",
            f"Ứng dụng phải xác thực bằng {', '.join(client.auth_methods)}, không phải {method}",
            basic=basic,
        )
    if method in ("client_secret_basic", "client_secret_post"):
        if not secret_matches(client.client_secret, secret):
            raise errors.invalid_client("Wrong client secret", "Sai khóa bí mật của ứng dụng", basic=basic)
    elif method == "private_key_jwt":
        _verify_assertion(session, tenant, client, creds, audiences, now)
    return client


def _assertion_issuer(creds: Credentials) -> str:
    if creds.assertion_type != ASSERTION_TYPE:
        raise errors.invalid_client(
            f"client_assertion_type must be {ASSERTION_TYPE}", f"client_assertion_type phải là {ASSERTION_TYPE}"
        )
    try:
        claims = jwt.decode(creds.assertion or "", options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise errors.invalid_client(f"Malformed client assertion: {exc}", "Client assertion không hợp lệ") from None
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or claims.get("sub") != issuer:
        raise errors.invalid_client(
            "The client assertion's iss and sub must both be the client id",
            "iss và sub của client assertion phải là client_id",
        )
    return issuer


def _verify_assertion(
    session: Session, tenant: str, client: Client, creds: Credentials, audiences: list[str], now: datetime
) -> None:
    token = creds.assertion or ""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise errors.invalid_client("Malformed client assertion", "Client assertion không hợp lệ") from None
    alg = header.get("alg")
    if alg not in ASSERTION_ALGORITHMS:
        raise errors.invalid_client(
            f"Client assertion algorithm {alg!r} is not accepted (use an asymmetric one)",
            f"Thuật toán {alg!r} của client assertion không được chấp nhận",
        )
    keys = [k for k in client.jwks.get("keys", []) if header.get("kid") in (None, k.get("kid"))]
    if not keys:
        raise errors.invalid_client(
            "No registered key of this client matches the assertion's kid",
            "Không có khóa đã đăng ký khớp kid của client assertion",
        )
    claims: dict[str, Any] | None = None
    for jwk in keys:
        try:
            loader = ECAlgorithm if jwk.get("kty") == "EC" else RSAAlgorithm
            key = loader.from_jwk(json.dumps(jwk))
            claims = jwt.decode(
                token,
                key=key,  # type: ignore[arg-type]
                algorithms=[alg],
                audience=audiences,
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "require": ["exp", "jti"]},
            )
            break
        except jwt.InvalidAudienceError:
            raise errors.invalid_client(
                f"The client assertion's aud must be one of {', '.join(audiences)}",
                "aud của client assertion phải là địa chỉ token endpoint",
            ) from None
        except (jwt.PyJWTError, ValueError, KeyError, TypeError):
            continue  # a registered key that does not verify (or does not load): try the next
    if claims is None:
        raise errors.invalid_client(
            "The client assertion's signature does not verify with the registered keys",
            "Chữ ký của client assertion không hợp lệ",
        )
    exp = datetime.fromtimestamp(float(claims["exp"]), UTC)
    if exp <= now:
        raise errors.invalid_client("The client assertion has expired", "Client assertion đã hết hạn")
    jti = str(claims["jti"])
    if session.scalar(select(UsedAssertion.id).where(UsedAssertion.tenant == tenant, UsedAssertion.jti == jti)):
        raise errors.invalid_client("The client assertion was already used", "Client assertion đã được sử dụng")
    session.add(UsedAssertion(tenant=tenant, jti=jti[:256], expires_at=exp))
    session.flush()

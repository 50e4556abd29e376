"""Who is calling: consumers with a token or API key, the administrator, or anonymous.

Tokens are self-issued JWTs (HS256) signed with a key derived from the gateway secret.
Why self-issued rather than delegated to the identity service: validating one is a
signature check in memory, with no call to another service per request, so every gateway
replica validates every token on its own. What a token cannot outlive is still checked
against the in-memory configuration on every call: a consumer that was deleted (or whose
tenant was) is refused at once, and the scopes it was granted are narrowed to what the
consumer is allowed now.

Expiry is judged by the tenant's test clock, so advancing it expires tokens.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass

import jwt

from gateway.config import ConfigCache, ConsumerConf
from gateway.errors import AccessDenied, AuthError
from vnsandbox import bounds
from vnsandbox.context import DEFAULT_TENANT
from vnsandbox.middleware import valid_tenant
from vnsandbox.signing import GATEWAY_TOKEN_ISSUER, constant_time_equal, gateway_token_key, hmac_hex

ISSUER = GATEWAY_TOKEN_ISSUER
#: Scope of the tenant's own control plane (reset, faults, journal, clock, consumers).
CONTROL_SCOPE = "sandbox"
APIS = ("vneid", "dvcqg", "paygov")
KNOWN_SCOPES = frozenset({"*", CONTROL_SCOPE, *APIS, *(f"{a}:read" for a in APIS)})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_TOKEN_CACHE_SIZE = 10_000


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_client_id() -> str:
    return "c-" + secrets.token_hex(8)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def scope_allows(scopes: frozenset[str], api: str, method: str) -> bool:
    """Whether ``scopes`` cover calling ``api`` with ``method``."""
    if "*" in scopes or api in scopes:
        return True
    return method in READ_METHODS and f"{api}:read" in scopes


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request."""

    #: ``consumer``, ``admin`` or ``anonymous``.
    kind: str
    tenant: str
    client_id: str = ""
    scopes: frozenset[str] = frozenset({"*"})

    @property
    def label(self) -> str:
        return self.client_id or self.kind


class Authenticator:
    """Turns the credential headers of a request into a :class:`Principal`."""

    def __init__(self, gateway_secret: str, admin_key: str, cache: ConfigCache, *, require_auth: bool) -> None:
        self._key = gateway_token_key(gateway_secret)
        self._link_key = hmac_hex(gateway_secret, "vnsandbox-gateway-tenant-link")
        self._links: dict[str, str] = {}
        self._admin_key = admin_key
        self.cache = cache
        self.require_auth = require_auth
        #: token → (exp, client_id, tenant, scopes): a signature is checked once per token.
        self._tokens: dict[str, tuple[float, str, str, frozenset[str]]] = {}

    # -- tokens -------------------------------------------------------------------------

    def issue(self, consumer: ConsumerConf, scopes: frozenset[str], ttl_s: int) -> tuple[str, int]:
        now = int(time.time() + self.clock_offset(consumer.tenant))
        claims = {
            "iss": ISSUER,
            "sub": consumer.client_id,
            "tenant": consumer.tenant,
            "scope": " ".join(sorted(scopes)),
            "iat": now,
            "exp": now + ttl_s,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._key, algorithm="HS256"), ttl_s

    # -- tenant-bound links ------------------------------------------------------------------

    def link_prefix(self, tenant: str) -> str:
        """``/t/{tenant}/{sig}``: the path prefix that binds a link to ``tenant`` (see :mod:`gateway.routes`)."""
        prefix = self._links.get(tenant)
        if prefix is None:
            prefix = f"/t/{tenant}/{hmac_hex(self._link_key, tenant)[:20]}"
            if len(self._links) < _TOKEN_CACHE_SIZE:
                self._links[tenant] = prefix
        return prefix

    def verify_link(self, tenant: str, signature: str) -> bool:
        return valid_tenant(tenant) and constant_time_equal(self.link_prefix(tenant), f"/t/{tenant}/{signature}")

    def is_gateway_token(self, authorization: str) -> bool:
        """Whether an ``Authorization`` header carries a gateway token (else it is meant for the upstream).

        A token seen before is recognised by a dictionary lookup; another bearer token is
        peeked at (its unverified ``iss`` claim) without checking its signature.
        """
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return False
        token = token.strip()
        if token in self._tokens:
            return True
        if token.count(".") != 2:
            return False
        try:
            payload = token.split(".")[1]
            claims = bounds.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except ValueError:
            return False
        return isinstance(claims, dict) and claims.get("iss") == ISSUER

    def clock_offset(self, tenant: str) -> float:
        return self.cache.snapshot.clock.get(tenant, 0.0)

    def _decode(self, token: str) -> tuple[float, str, str, frozenset[str]]:
        hit = self._tokens.get(token)
        if hit is not None:
            return hit
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                issuer=ISSUER,
                options={"verify_exp": False, "verify_iat": False, "require": ["exp", "sub", "tenant", "iss"]},
            )
        except jwt.PyJWTError:
            raise AuthError(
                "The access token is not valid",
                "Mã truy cập (access token) không hợp lệ",
                code="INVALID_TOKEN",
            ) from None
        entry = (
            float(claims["exp"]),
            str(claims["sub"]),
            str(claims["tenant"]),
            frozenset(str(claims.get("scope", "")).split()),
        )
        if len(self._tokens) >= _TOKEN_CACHE_SIZE:
            self._tokens.clear()
        self._tokens[token] = entry
        return entry

    # -- requests -----------------------------------------------------------------------

    def authenticate(
        self,
        authorization: str | None,
        api_key: str | None,
        admin_key: str | None,
        tenant_header: str | None,
        *,
        allow_anonymous: bool = False,
    ) -> Principal:
        """The caller of a request, from its credential headers.

        A tenant header is only a choice for the administrator and for anonymous callers
        of an open (embedded, no-auth) gateway; a consumer's tenant is the one it was
        registered in, and a header naming another tenant is refused as forged.
        """
        if tenant_header is not None and not valid_tenant(tenant_header):
            raise AuthError(
                "Invalid tenant name: lower-case letters, digits, '-' and '_', at most 63 characters",
                "Tên tenant không hợp lệ: chữ thường, chữ số, '-' và '_', tối đa 63 ký tự",
                code="INVALID_TENANT",
                status_code=400,
            )
        principal: Principal | None = None
        if admin_key is not None:
            if not constant_time_equal(admin_key, self._admin_key):
                raise AuthError("The admin key is not valid", "Khoá quản trị không hợp lệ", code="INVALID_ADMIN_KEY")
            return Principal("admin", tenant_header or DEFAULT_TENANT, "admin")
        if authorization is not None:
            principal = self._bearer(authorization)
        elif api_key is not None:
            principal = self._api_key(api_key)
        if principal is None:
            if self.require_auth and tenant_header is not None:
                raise AuthError(
                    "Naming a tenant (X-Sandbox-Tenant) needs credentials",
                    "Cần thông tin xác thực để chọn tenant (X-Sandbox-Tenant)",
                )
            if self.require_auth and not allow_anonymous:
                raise AuthError(
                    "Credentials required: send 'Authorization: Bearer <token>' (from POST /oauth2/token) "
                    "or 'X-API-Key'",
                    "Cần thông tin xác thực: gửi 'Authorization: Bearer <token>' (lấy từ POST /oauth2/token) "
                    "hoặc 'X-API-Key'",
                )
            return Principal("anonymous", tenant_header or DEFAULT_TENANT)
        if tenant_header is not None and tenant_header != principal.tenant:
            raise AccessDenied(
                "The X-Sandbox-Tenant header names another tenant than the credentials' tenant",
                "Tiêu đề X-Sandbox-Tenant khác tenant của thông tin xác thực",
                code="TENANT_MISMATCH",
            )
        return principal

    def _bearer(self, authorization: str) -> Principal:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError(
                "Use 'Authorization: Bearer <access token>'",
                "Hãy dùng 'Authorization: Bearer <access token>'",
                code="INVALID_TOKEN",
            )
        exp, client_id, tenant, scopes = self._decode(token.strip())
        snap = self.cache.snapshot
        consumer = snap.consumers.get(client_id)
        if consumer is None or consumer.tenant != tenant:
            raise AuthError(
                "The consumer of this token no longer exists",
                "Ứng dụng của mã truy cập này không còn tồn tại",
                code="INVALID_TOKEN",
            )
        if time.time() + snap.clock.get(tenant, 0.0) >= exp:
            raise AuthError("The access token has expired", "Mã truy cập đã hết hạn", code="TOKEN_EXPIRED")
        if "*" in scopes:
            allowed = consumer.scopes
        elif "*" in consumer.scopes:
            allowed = scopes
        else:
            allowed = scopes & consumer.scopes
        return Principal("consumer", tenant, client_id, allowed)

    def _api_key(self, api_key: str) -> Principal:
        consumer = self.cache.snapshot.by_api_key.get(hash_secret(api_key))
        if consumer is None:
            raise AuthError("The API key is not valid", "Khoá API không hợp lệ", code="INVALID_API_KEY")
        return Principal("consumer", consumer.tenant, consumer.client_id, consumer.scopes)

    def check_client_secret(self, client_id: str, client_secret: str) -> ConsumerConf | None:
        consumer = self.cache.snapshot.consumers.get(client_id)
        if consumer is None or not constant_time_equal(consumer.secret_hash, hash_secret(client_secret)):
            return None
        return consumer

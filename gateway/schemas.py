"""Wire shapes of the gateway's control plane (pydantic in/out)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator

from gateway.auth import KNOWN_SCOPES
from gateway.faults import KINDS
from vnsandbox.bounds import Amount, ClockSeconds, Count, HttpStatus, Seed

TENANT_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"


def _with_offset(value: datetime) -> datetime:
    """Stored times are UTC; SQLite hands them back without their offset."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


#: A time in a reply: ISO-8601 with its offset (``2026-09-15T03:30:00.123456+00:00``), on every database.
Timestamp = Annotated[datetime, AfterValidator(_with_offset)]


def _check_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - KNOWN_SCOPES)
    if unknown:
        raise ValueError(f"unknown scopes {unknown}; known: {sorted(KNOWN_SCOPES)}")
    return sorted(set(scopes))


class Quota(BaseModel):
    """Token bucket of a consumer: ``burst`` calls at once, then ``rate_per_second``.

    ``rate_per_second: null`` means unlimited.
    """

    rate_per_second: float | None = Field(
        None, ge=0, le=1_000_000, allow_inf_nan=False, description="refill rate (0-10^6); null for unlimited"
    )
    burst: int | None = Field(None, ge=1, le=1_000_000, description="bucket size; default: the rate rounded up")


class ConsumerIn(BaseModel):
    """Register a consumer system in the caller's tenant (an administrator may name the tenant)."""

    name: str = Field("", max_length=128, description="human-readable name, e.g. 'Cổng DVC tỉnh Quảng Nam'")
    scopes: list[str] = Field(
        default_factory=lambda: ["vneid", "dvcqg", "paygov"],
        description="APIs and scopes: vneid, dvcqg, paygov (any method), <api>:read (GET only), "
        "sandbox (the tenant's control plane), * (everything)",
    )
    quota: Quota = Field(default_factory=Quota)
    tenant: str | None = Field(None, pattern=TENANT_PATTERN, description="administrator only: the tenant")

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, v: list[str]) -> list[str]:
        return _check_scopes(v)


class ConsumerPatch(BaseModel):
    """Change a consumer's name or scopes (live: the next call sees it)."""

    name: str | None = Field(None, max_length=128)
    scopes: list[str] | None = None

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else _check_scopes(v)


class ConsumerOut(BaseModel):
    client_id: str
    tenant: str
    name: str
    scopes: list[str]
    quota: Quota
    created_at: Timestamp


class Credentials(BaseModel):
    """Secrets of a new consumer. Shown once: the gateway keeps only their hashes."""

    client_id: str
    client_secret: str
    api_key: str
    token_url: str
    scopes: list[str]


class ConsumerCreated(ConsumerOut):
    credentials: Credentials


class TenantIn(BaseModel):
    """Create a tenant. Without a name the gateway picks a unique ``t-<random>`` one."""

    tenant: str | None = Field(None, pattern=TENANT_PATTERN)
    description: str = Field("", max_length=256)
    scopes: list[str] = Field(
        default_factory=lambda: ["*"], description="scopes of the tenant's first consumer (default: everything)"
    )
    quota: Quota = Field(default_factory=Quota)

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, v: list[str]) -> list[str]:
        return _check_scopes(v)


class TenantOut(BaseModel):
    tenant: str
    description: str
    created_at: Timestamp
    consumers: int
    #: Tenant-bound base URL of each API: links a browser can follow without credentials.
    links: dict[str, str] = Field(default_factory=dict)


class TenantCreated(TenantOut):
    consumer: ConsumerCreated


FaultKind = Literal["latency", "error", "reset", "empty", "malformed", "timeout"]


class FaultIn(BaseModel):
    """A fault rule for the caller's tenant."""

    kind: FaultKind = Field(description="; ".join(f"{k}: {v}" for k, v in KINDS.items()))
    api: str = Field("*", pattern=r"^(\*|vneid|dvcqg|paygov)$", description="vneid, dvcqg, paygov or *")
    path: str = Field("*", max_length=512, description="glob over the path after the API prefix, e.g. /dossiers/*")
    method: str = Field("*", pattern=r"^(\*|[A-Za-z]{1,10})$")
    consumer: str = Field("*", max_length=64, description="client id, or * for every consumer")
    next_n: Count | None = Field(None, description="apply to the next N matching calls only (1 … 10^9)")
    probability: float = Field(1.0, ge=0.0, le=1.0, description="chance of firing on each matching call")
    seed: Seed = Field(0, description="seed of the rule's random stream (reproducible runs)")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="latency: ms | distribution (uniform min_ms max_ms, normal mean_ms stddev_ms, exponential "
        "mean_ms); error: status, body, headers; timeout: after_ms, phase; reset/empty: phase (before|after)",
    )

    @model_validator(mode="after")
    def _params(self) -> FaultIn:
        self.method = self.method.upper()
        p = self.params
        if self.kind == "error":
            status = p.get("status", 503)
            if not isinstance(status, int) or not 400 <= status <= 599:
                raise ValueError("params.status must be an HTTP error status (400-599)")
        if self.kind == "latency":
            dist = p.get("distribution", "fixed")
            if dist not in ("fixed", "uniform", "normal", "exponential"):
                raise ValueError("params.distribution must be fixed, uniform, normal or exponential")
            for key in ("ms", "min_ms", "max_ms", "mean_ms", "stddev_ms"):
                value = p.get(key, 0)
                if not isinstance(value, int | float) or not 0 <= value <= 600_000:
                    raise ValueError(f"params.{key} must be a number of milliseconds (0-600000)")
        if "phase" in p and p["phase"] not in ("before", "after"):
            raise ValueError("params.phase must be 'before' or 'after'")
        after = p.get("after_ms")
        if after is not None and (not isinstance(after, int | float) or not 0 <= after <= 600_000):
            raise ValueError("params.after_ms must be a number of milliseconds (0-600000)")
        return self


class FaultOut(BaseModel):
    id: int
    kind: str
    api: str
    path: str
    method: str
    consumer: str
    next_n: int | None
    probability: float
    seed: int
    params: dict[str, Any]
    created_at: Timestamp
    #: Times it fired in this replica.
    fired: int = 0


class VerifyIn(BaseModel):
    """Count the journal's calls matching every given filter (WireMock ``verify`` style)."""

    method: str | None = None
    path: str | None = None
    path_prefix: str | None = None
    path_glob: str | None = None
    status: HttpStatus | None = None
    consumer: str | None = None
    api: str | None = None
    fault: str | None = Field(None, description="a fault kind, 'any' or 'none'")
    since: str | None = None
    body_contains: str | None = None
    response_contains: str | None = None
    headers: dict[str, str] | None = Field(
        None, description="header name (any case) → text its value must contain", max_length=20
    )
    expected: Amount | None = Field(
        None, description="if given, `ok` says whether exactly this many matched; a mismatch answers 409"
    )
    max_near_misses: int = Field(3, ge=0, le=50, description="how many near misses a mismatch lists")


class NearMiss(BaseModel):
    """A recorded call that came closest to the criteria, and how it differs."""

    id: int | None = None
    time: str | None = None
    request_id: str | None = None
    consumer: str | None = None
    method: str | None = None
    path: str | None = None
    status: int | None = None
    distance: float = Field(description="one per differing criterion, less for alike strings")
    differences: list[dict[str, Any]] = Field(description='`{"field", "expected", "actual"}` each')


class VerifyOut(BaseModel):
    """The verdict: 200 when it holds (or no `expected` was given), 409 with near misses when not."""

    count: int
    expected: int | None = None
    ok: bool | None = None
    near_misses: list[NearMiss] | None = None
    error_code: str | None = Field(None, description="`VERIFY_MISMATCH` on a 409")
    message: str | None = None
    message_en: str | None = None
    request_id: str | None = None


class ClockIn(BaseModel):
    """Move the tenant's clock in the gateway and in every service."""

    advance_seconds: ClockSeconds | None = Field(
        None, ge=0, description="seconds forward (the offset stays within ±100 years)"
    )
    offset_seconds: ClockSeconds | None = Field(None, description="offset from real time (±100 years)")

    @model_validator(mode="after")
    def _one(self) -> ClockIn:
        if (self.advance_seconds is None) == (self.offset_seconds is None):
            raise ValueError("give exactly one of advance_seconds or offset_seconds")
        return self

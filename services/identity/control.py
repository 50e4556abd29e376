"""The identity service's own ``/_sandbox`` endpoints: personas, seeding, clients, keys."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from services.identity import clients, keys, people, population
from services.identity.models import BASE_TENANT, PopulationInfo, aware
from services.identity.schemas import (
    ClientIn,
    ClientPatch,
    DeceasedIn,
    LevelIn,
    PersonaIn,
    PersonaPatch,
    SeedIn,
    client_to_wire,
    persona_to_control,
)
from services.identity.settings import DEV_CLIENT_ID, IdentitySettings
from vnsandbox import clock
from vnsandbox.context import current_tenant
from vnsandbox.db import SessionDep
from vnsandbox.errors import NotFound, ValidationFailed
from vnsandbox.openapi import error_responses
from vnsandbox.service import public_base_url, segment_except

#: ``/clients/default`` is the development client's page; no client is called ``default``.
NOT_DEFAULT = segment_except("default")

router = APIRouter(prefix="/_sandbox", tags=["identity control"])


PERSONA_404 = error_responses(404, s404="`PERSONA_NOT_FOUND`: no such persona for this tenant")
CLIENT_404 = error_responses(404, s404="`CLIENT_NOT_FOUND`")


def _today(session: SessionDep) -> date:
    return clock.now(session, current_tenant()).date()


# -- personas ------------------------------------------------------------------------------------


@router.get("/personas", summary="Search personas (the tenant's, then the base population)")
def personas_list(
    session: SessionDep,
    q: Annotated[str, Query(description="part of the name or the start of the number")] = "",
    level: Annotated[int | None, Query(ge=0, le=2)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> dict[str, Any]:
    found = people.search(session, current_tenant(), q, level, limit)
    today = _today(session)
    return {"count": len(found), "personas": [persona_to_control(p, today) for p in found]}


@router.post("/personas", status_code=201, summary="Create a persona", responses=error_responses(409))
def persona_create(body: PersonaIn, session: SessionDep) -> dict[str, Any]:
    """A new person in this tenant's population. The number must agree with date of birth and
    sex (422 ``INVALID_CCCD`` otherwise); left out, a consistent one is made up."""
    values = body.model_dump(exclude={"number"})
    today = _today(session)
    person = people.create(session, current_tenant(), body.number, values, today)
    return persona_to_control(person, today)


@router.get("/personas/{number}", summary="One persona", responses=PERSONA_404)
def persona_get(number: str, session: SessionDep) -> dict[str, Any]:
    people.check_number(number)
    return persona_to_control(people.get(session, current_tenant(), number), _today(session))


@router.patch("/personas/{number}", summary="Edit a persona", responses=PERSONA_404)
def persona_edit(number: str, body: PersonaPatch, session: SessionDep) -> dict[str, Any]:
    """Change fields; editing a base person gives this tenant its own copy (others see no change)."""
    people.check_number(number)
    today = _today(session)
    person = people.update(session, current_tenant(), number, body.model_dump(exclude_unset=True), today)
    return persona_to_control(person, today)


@router.delete("/personas/{number}", summary="Delete a persona (for this tenant)", responses=PERSONA_404)
def persona_delete(number: str, session: SessionDep) -> dict[str, Any]:
    people.check_number(number)
    people.delete(session, current_tenant(), number)
    return {"deleted": number}


@router.post("/personas/{number}/deceased", summary="Mark a persona deceased", responses=PERSONA_404)
def persona_deceased(number: str, body: DeceasedIn, session: SessionDep) -> dict[str, Any]:
    """Record a death (default: today on the test clock). Logins are refused from then on and
    verification answers ``MaKetQua`` ``02``."""
    people.check_number(number)
    day = body.death_date or _today(session)
    person = people.update(session, current_tenant(), number, {"death_date": day})
    return persona_to_control(person, _today(session))


@router.put("/personas/{number}/level", summary="Change a persona's assurance level", responses=PERSONA_404)
def persona_level(number: str, body: LevelIn, session: SessionDep) -> dict[str, Any]:
    """0 (no VNeID account), 1 or 2; foreigners can only be level 1."""
    people.check_number(number)
    person = people.update(session, current_tenant(), number, {"level": body.level})
    return persona_to_control(person, _today(session))


# -- seeding ------------------------------------------------------------------------------------


def _info(row: PopulationInfo | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"seed": row.seed, "people": row.people, "generated_at": aware(row.generated_at).isoformat()}


@router.get("/seed", summary="What population this tenant sees")
def seed_info(session: SessionDep) -> dict[str, Any]:
    return {
        "base": _info(session.get(PopulationInfo, BASE_TENANT)),
        "tenant": _info(session.get(PopulationInfo, current_tenant())),
    }


@router.post("/seed", summary="Generate people for this tenant")
def seed(body: SeedIn, request: Request, session: SessionDep) -> dict[str, Any]:
    """Replace this tenant's generated people with ``people`` new ones from ``seed`` (personas made
    by hand stay). The base population every tenant sees is made once per database at start
    (``IDENTITY_SEED_PEOPLE``) or by ``vnsandbox seed``."""
    settings: IdentitySettings = request.app.state.settings
    if body.people > settings.seed_max_people:
        raise ValidationFailed(
            f"At most {settings.seed_max_people} people per request; use `vnsandbox seed` for more",
            f"Tối đa {settings.seed_max_people} người mỗi yêu cầu; dùng `vnsandbox seed` cho số lớn hơn",
            code="SEED_TOO_LARGE",
        )
    count = population.generate(session, current_tenant(), body.people, body.seed, "seed")
    return {"tenant": current_tenant(), "seed": body.seed, "people": count}


# -- clients ----------------------------------------------------------------------------------------


def _check_client_values(values: dict[str, Any]) -> None:
    bad = [m for m in values.get("auth_methods") or [] if m not in clients.AUTH_METHODS]
    bad += [g for g in values.get("grant_types") or [] if g not in clients.GRANT_TYPES]
    if bad:
        raise ValidationFailed(
            f"Unknown auth methods or grant types: {', '.join(bad)}",
            f"Phương thức xác thực hoặc loại cấp quyền không hợp lệ: {', '.join(bad)}",
            code="INVALID_CLIENT_METADATA",
        )
    if "private_key_jwt" in (values.get("auth_methods") or []) and not (values.get("jwks") or {}).get("keys"):
        raise ValidationFailed(
            "private_key_jwt needs the client's public keys in jwks",
            "private_key_jwt cần khóa công khai của ứng dụng trong jwks",
            code="INVALID_CLIENT_METADATA",
        )


@router.get("/clients", summary="Registered clients (relying parties)")
def clients_list(session: SessionDep) -> dict[str, Any]:
    return {"clients": [client_to_wire(c, BASE_TENANT) for c in clients.listing(session, current_tenant())]}


@router.get("/clients/default", summary="The built-in development client and where to use it")
def client_default(request: Request, session: SessionDep) -> dict[str, Any]:
    """Credentials of ``vnsandbox-dev`` (embedded mode) and the issuer to configure."""
    client = clients.find(session, current_tenant(), DEV_CLIENT_ID)
    if client is None:
        raise NotFound(
            "No development client (it exists in the embedded mode only)",
            "Không có ứng dụng phát triển (chỉ có ở chế độ nhúng)",
            code="CLIENT_NOT_FOUND",
        )
    base = public_base_url(request)
    return client_to_wire(client, BASE_TENANT) | {
        "issuer": base,
        "discovery": f"{base}/.well-known/openid-configuration",
    }


@router.post(
    "/clients", status_code=201, summary="Register a client", responses=error_responses(409, s409="`CLIENT_EXISTS`")
)
def client_create(body: ClientIn, session: SessionDep) -> dict[str, Any]:
    values = body.model_dump()
    _check_client_values(values)
    return client_to_wire(clients.create(session, current_tenant(), values), BASE_TENANT)


@router.get("/clients/{client_id:" + NOT_DEFAULT + "}", summary="One client", responses=CLIENT_404)
def client_get(client_id: str, session: SessionDep) -> dict[str, Any]:
    return client_to_wire(clients.get(session, current_tenant(), client_id), BASE_TENANT)


@router.patch(
    "/clients/{client_id:" + NOT_DEFAULT + "}",
    summary="Change a client",
    responses={**CLIENT_404, **error_responses(409)},
)
def client_edit(client_id: str, body: ClientPatch, session: SessionDep) -> dict[str, Any]:
    values = body.model_dump(exclude_unset=True)
    current = client_to_wire(clients.get(session, current_tenant(), client_id), BASE_TENANT)
    _check_client_values(current | values)
    return client_to_wire(clients.update(session, current_tenant(), client_id, values), BASE_TENANT)


@router.delete("/clients/{client_id:" + NOT_DEFAULT + "}", summary="Remove a client", responses=CLIENT_404)
def client_delete(client_id: str, session: SessionDep) -> dict[str, Any]:
    clients.delete(session, current_tenant(), client_id)
    return {"deleted": client_id}


# -- signing keys -------------------------------------------------------------------------------------


@router.get("/keys", summary="Signing keys of this tenant")
def keys_list(session: SessionDep) -> dict[str, Any]:
    rows = keys.key_set(session, current_tenant())
    return {
        "keys": [
            {
                "kid": k.kid,
                "active": k.retired_at is None,
                "created_at": aware(k.created_at).isoformat(),
                "retired_at": aware(k.retired_at).isoformat() if k.retired_at else None,
                "shared": k.tenant == BASE_TENANT,
            }
            for k in rows
        ]
    }


@router.post("/keys/rotate", summary="Rotate the signing key")
def keys_rotate(session: SessionDep) -> dict[str, Any]:
    """A new key signs from now on; the previous one stays in the JWKS until tokens it signed
    have expired. Only this tenant is affected."""
    tenant = current_tenant()
    fresh = keys.rotate(session, tenant, clock.now(session, tenant))
    return {"active_kid": fresh.kid, "keys": keys_list(session)["keys"]}

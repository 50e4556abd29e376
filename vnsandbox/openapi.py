"""The OpenAPI contract every app of the sandbox publishes.

One place declares what every operation shares, so a generated client or Swagger UI's
"Try it out" sees the replies the sandbox really gives:

- the error envelopes (:class:`~vnsandbox.errors.ErrorBody`, and the platforms' own ones a
  service registers with :func:`error_responses`), declared per status;
- the replies the foundation itself gives on every operation (unreadable input 400, the
  gateway's signature 401, body too large 413, non-JSON body 415, validation 422, the
  gateway's quota 429), added by :func:`install_contract` where a route does not declare
  them, and merged (``anyOf``) with a route's own envelope where it does;
- the security schemes, declared once in :data:`SECURITY_SCHEMES` and attached per
  operation with :func:`secured`;
- required headers with :func:`header_parameter`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

from vnsandbox.errors import ErrorBody

#: Every security scheme of the sandbox, by the name operations refer to it with.
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "dvcqgSession": {
        "type": "apiKey",
        "in": "header",
        "name": "session",
        "description": "The session from `POST /api/login` (DVCQG). `X-Session` is accepted too.",
    },
    "dvcqgBearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "A unit's API key, a session, or (through the gateway) the gateway's token of a consumer "
        "acting for the unit.",
    },
    "clientBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "OAuth 2.0 client authentication `client_secret_basic` (client_id:client_secret). "
        "`client_secret_post` and `private_key_jwt` send the credentials in the form instead.",
    },
    "vneidBearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token of this provider (`/oauth2/token`).",
    },
    "gatewayApiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "A gateway consumer's API key.",
    },
    "gatewayBearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A gateway token (`POST /oauth2/token` at the gateway, client_credentials).",
    },
    "gatewayAdminKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Sandbox-Admin-Key",
        "description": "The gateway's admin key (`GATEWAY_ADMIN_KEY`).",
    },
}

#: What each error status means wherever it is declared without a description of its own.
ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Unreadable or malformed request",
    401: "Missing or invalid credentials",
    403: "Authenticated, but not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflicts with existing data or state",
    413: "Body too large",
    415: "Unsupported content type",
    422: "The request did not pass validation (`details` names each field and rule)",
    429: "Rate limited (`Retry-After` says when to retry)",
    503: "Temporarily unavailable (a switch or a transient failure; retry later)",
    504: "Timed out",
}

#: Replies the foundation (middleware, error handler, gateway) gives on every operation of a service.
FOUNDATION_400 = (
    "Unreadable request: malformed JSON, a NUL character, an invalid tenant name, an invalid Content-Length, "
    "a path traversal (sandbox envelope)"
)
FOUNDATION_401 = (
    "The gateway's tenant signature is missing or wrong (`TENANT_ASSERTION_MISSING` / `_INVALID`, only with "
    "`SANDBOX_REQUIRE_TENANT_SIGNATURE=true`)"
)
FOUNDATION_413 = "The body is larger than `<P>_MAX_BODY_BYTES` (`PAYLOAD_TOO_LARGE`)"
FOUNDATION_415 = "The body is not `application/json` (`UNSUPPORTED_MEDIA_TYPE`)"
FOUNDATION_422 = "A parameter or body field did not pass validation (`VALIDATION_ERROR`; `details` names each)"
FOUNDATION_429 = "Through the gateway: the consumer's quota is spent (`RATE_LIMITED`, `Retry-After`)"

#: A ``responses=`` argument of a route.
Responses = dict[int | str, dict[str, Any]]

_MODELS: dict[str, type[BaseModel]] = {ErrorBody.__name__: ErrorBody}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    _MODELS.setdefault(model.__name__, model)
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def error_responses(*statuses: int, envelope: type[BaseModel] = ErrorBody, **descriptions: str) -> Responses:
    """``responses=`` declaring error replies in ``envelope`` (the sandbox's by default).

    A description per status can be given as ``s404="..."``.
    """
    return {
        status: {
            "description": descriptions.get(f"s{status}", ERROR_DESCRIPTIONS.get(status, "Error")),
            "content": json_content(_ref(envelope)),
        }
        for status in statuses
    }


def media_response(media_type: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """One reply of a non-JSON media type (``text/csv``, ``text/html``, ``application/pdf`` …)."""
    default = {"type": "string", "format": "binary"} if media_type.startswith("application/") else {"type": "string"}
    return {"description": description, "content": {media_type: {"schema": schema or default}}}


def message_body(*models: type[BaseModel], example: Any = None) -> dict[str, Any]:
    """``openapi_extra`` documenting a JSON body the endpoint parses itself: one of ``models``
    (by their wire names), so generated clients and fuzzers send the real shapes."""
    schema: dict[str, Any] = {"oneOf": [_ref(m) for m in models]} if len(models) > 1 else _ref(models[0])
    media: dict[str, Any] = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {"requestBody": {"required": True, "content": {"application/json": media}}}


def secured(*alternatives: str | tuple[str, ...], optional: bool = False) -> dict[str, Any]:
    """``openapi_extra`` naming the operation's security: any one of ``alternatives`` (a tuple is
    several schemes together); ``optional`` when the operation also answers anonymous callers."""
    requirements: list[dict[str, list[str]]] = []
    for alt in alternatives:
        names = alt if isinstance(alt, tuple) else (alt,)
        for name in names:
            if name not in SECURITY_SCHEMES:
                raise KeyError(f"unknown security scheme {name!r}")
        requirements.append({name: [] for name in names})
    if optional:
        requirements.append({})
    return {"security": requirements}


def header_parameter(
    name: str, description: str, *, example: str | None = None, required: bool = True
) -> dict[str, Any]:
    """``openapi_extra`` declaring a header the endpoint reads itself (Swagger UI then sends it)."""
    param: dict[str, Any] = {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": {"type": "string", "minLength": 1} if required else {"type": "string"},
    }
    if example is not None:
        param["example"] = example
    return {"parameters": [param]}


def merge_extra(*parts: dict[str, Any]) -> dict[str, Any]:
    """Several ``openapi_extra`` fragments as one (dicts merge deeply, lists concatenate)."""
    out: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            if isinstance(value, list) and isinstance(out.get(key), list):
                out[key] = out[key] + value
            elif isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merge_extra(out[key], value)
            else:
                out[key] = value
    return out


Operation = dict[str, Any]


@dataclass(frozen=True)
class RouteFacts:
    """What the framework does for a route before its endpoint runs."""

    #: The framework parses the body (a model or form): a non-JSON body is answered 415.
    parses_body: bool = False
    #: The framework validates parameters or a body: a bad one is answered 422.
    validates: bool = False
    #: The route's own declaration of 422 (FastAPI writes its default schema over it).
    declared_422: dict[str, Any] | None = None


#: Given an operation and its route's facts, the foundation's replies for it: status → description.
FoundationReplies = Callable[[Operation, RouteFacts], dict[int, str]]


def control_replies(op: Operation, facts: RouteFacts) -> dict[int, str]:
    """The replies the foundation gives on every app (the gateway's control plane too): its
    middleware (400, 413) and its error handler (415, 422)."""
    out = {400: FOUNDATION_400}
    if op.get("requestBody") is not None:
        out[413] = FOUNDATION_413
    if facts.parses_body:
        out[415] = FOUNDATION_415
    if facts.validates:
        out[422] = FOUNDATION_422
    return out


def service_replies(op: Operation, facts: RouteFacts) -> dict[int, str]:
    """The replies the foundation gives on an operation of a service built by
    :func:`vnsandbox.service.create_service_app`: those of :func:`control_replies`, the
    tenant signature (401) and the gateway's quota in front of it (429)."""
    return {**control_replies(op, facts), 401: FOUNDATION_401, 429: FOUNDATION_429}


_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_FRAMEWORK_422 = ("#/components/schemas/HTTPValidationError",)


def _json_schema(response: dict[str, Any]) -> dict[str, Any] | None:
    content = response.get("content") or {}
    media = content.get("application/json")
    if media is None:
        return None
    schema: dict[str, Any] = media.get("schema", {})
    return schema


def _union(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    if first == second or second in first.get("anyOf", ()):
        return first
    if "anyOf" in first:
        return {**first, "anyOf": [*first["anyOf"], second]}
    return {"anyOf": [first, second]}


def complete_schema(
    schema: dict[str, Any], foundation: FoundationReplies, facts: dict[tuple[str, str], RouteFacts]
) -> dict[str, Any]:
    """Give every operation of ``schema`` the foundation's replies and security schemes (in place).

    ``facts`` tells, per ``(path, method)``, what the framework does before the endpoint; an
    endpoint that parses its own body answers its own envelope. The framework's validation
    reply (422) is the sandbox envelope, not FastAPI's default schema.
    """
    envelope = _ref(ErrorBody)
    used_schemes: set[str] = set()
    for path, item in schema.get("paths", {}).items():
        for method in _METHODS:
            op = item.get(method)
            if op is None:
                continue
            responses: dict[str, Any] = op.setdefault("responses", {})
            route = facts.get((path, method), RouteFacts())
            framework_422 = responses.get("422")
            if framework_422 is not None and (_json_schema(framework_422) or {}).get("$ref") in _FRAMEWORK_422:
                del responses["422"]
                if route.declared_422 is not None:
                    responses["422"] = {k: v for k, v in copy.deepcopy(route.declared_422).items() if k != "model"}
            for status, description in foundation(op, route).items():
                key = str(status)
                declared = responses.get(key)
                if declared is None:
                    responses[key] = {"description": description, "content": json_content(dict(envelope))}
                    continue
                content = declared.setdefault("content", {})
                own = _json_schema(declared)
                content["application/json"] = {"schema": dict(envelope) if own is None else _union(own, envelope)}
                if description not in declared.get("description", ""):
                    declared["description"] = f"{declared.get('description', '')}; or: {description}".lstrip("; ")
            for requirement in op.get("security", ()):
                used_schemes.update(requirement)
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        if name in schemas and f"#/components/schemas/{name}" not in str(schema.get("paths")):
            del schemas[name]
    for name, model in _MODELS.items():
        if f"#/components/schemas/{name}" in str(schema.get("paths")) and name not in schemas:
            definition = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for sub_name, sub in definition.pop("$defs", {}).items():
                schemas.setdefault(sub_name, sub)
            schemas[name] = definition
    if used_schemes:
        components.setdefault("securitySchemes", {}).update(
            {name: copy.deepcopy(SECURITY_SCHEMES[name]) for name in sorted(used_schemes)}
        )
    return schema


def _facts(route: APIRoute) -> RouteFacts:
    parses_body = route.body_field is not None
    declared = route.responses.get(422) or route.responses.get("422")
    return RouteFacts(
        parses_body=parses_body,
        validates=parses_body or bool(get_flat_params(route.dependant)),
        declared_422=declared,
    )


def install_contract(app: FastAPI, foundation: FoundationReplies = control_replies) -> None:
    """Make ``app``'s ``/openapi.json`` complete its operations with :func:`complete_schema`."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            facts = {
                (context.path_format, method.lower()): _facts(context.original_route)
                for context in iter_route_contexts(app.routes)
                if isinstance(context.original_route, APIRoute) and context.path_format
                for method in context.methods or ()
            }
            app.openapi_schema = complete_schema(generate(), foundation, facts)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def operations(schema: dict[str, Any]) -> Iterable[tuple[str, str, Operation]]:
    """Every ``(path, METHOD, operation)`` of an OpenAPI document."""
    for path, item in schema.get("paths", {}).items():
        for method in _METHODS:
            if method in item:
                yield path, method.upper(), item[method]

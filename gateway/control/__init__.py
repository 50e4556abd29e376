"""The gateway's control plane: tokens, tenants, consumers, quotas, faults, journal, audit,
test clock, metrics, plus the index and the aggregated documentation.

A FastAPI app (:func:`gateway.control.app.build_control_app`) built from one module per
concern: ``access`` (who calls), ``token``, ``tenants`` (tenants, consumers and quotas),
``faults``, ``journal`` (journal, merged audit trail and deliveries), ``clock`` (reset and
test clock), and ``app`` (index, docs, metrics, health).

Who may call what:

- ``POST /oauth2/token``, ``/``, ``/docs``, ``/apis``, ``/metrics``, ``/_sandbox/health``,
  ``/_sandbox/ready``, ``/_sandbox/version``: anyone.
- ``POST /_sandbox/tenants``: anyone when ``GATEWAY_SELF_SERVICE_TENANTS`` is true (the
  default), else the administrator.
- Everything about one tenant (reset, journal, faults, clock, audit, consumers, deleting
  the tenant): a consumer of that tenant holding the ``sandbox`` scope, or the
  administrator (``X-Sandbox-Admin-Key``, tenant named by ``X-Sandbox-Tenant``), or, on an
  open embedded gateway, an anonymous caller (``default`` tenant, or the one its
  ``X-Sandbox-Tenant`` names).
- ``GET /_sandbox/tenants`` lists every tenant for the administrator, the caller's own otherwise.
"""

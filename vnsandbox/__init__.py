"""Shared foundation of the VN e-government sandbox.

Everything the gateway and the three mock services need exactly once lives here:
settings base, database engine and migrations, the error hierarchy and its one
handler, the request-context middleware (request id, body limit, tenant, journal),
structured logging, the ``/_sandbox`` control router and signing helpers.
"""

__version__ = "0.1.0"

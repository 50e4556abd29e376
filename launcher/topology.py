"""The multi-process topology: which processes make the sandbox and how each is started.

Used by ``vnsandbox up`` and by the tests, and mirrored by ``docker-compose.yml`` (a
test checks that the compose file and this table agree).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Process:
    name: str
    #: ``module:factory`` for ``uvicorn --factory``.
    factory: str
    default_port: int
    env_prefix: str
    #: Answers 200 once the process can serve: the services when alive (their database
    #: reachable), the gateway once every upstream answers too. ``vnsandbox up`` waits on it
    #: before its banner; docker-compose.yml's health checks probe it.
    ready_path: str = "/_sandbox/health"


SERVICES = (
    Process("identity", "services.identity.app:create_app", 8001, "IDENTITY_"),
    Process("dossier", "services.dossier.app:create_app", 8002, "DOSSIER_"),
    Process("payment", "services.payment.app:create_app", 8003, "PAYMENT_"),
)
GATEWAY = Process("gateway", "gateway.app:create_app", 8000, "GATEWAY_", ready_path="/_sandbox/ready")
#: The training console (browsers reach it through the gateway at ``/console/``).
CONSOLE = Process("console", "console.app:create_app", 8004, "CONSOLE_")
ALL = (GATEWAY, *SERVICES, CONSOLE)
#: The officer's desk (desk/): not part of the platform but a province's system that uses it, the
#: reference integration. ``vnsandbox up`` runs it beside the platform; compose and Kubernetes,
#: which describe the platform, do not.
DESK = Process("desk", "desk.app:create_app", 8005, "DESK_", ready_path="/_desk/health")
#: Every process ``vnsandbox up`` starts.
STARTED = (*ALL, DESK)

#: Public prefix of each service behind the gateway.
GATEWAY_PREFIX = {"identity": "/vneid/v1", "dossier": "/dvcqg/v1", "payment": "/paygov/v1"}


#: The HTTP/1.1 implementation every process runs (``uvicorn --http``).
HTTP_PROTOCOL = "vnsandbox.http11:HttpToolsProtocol"


def uvicorn_args(proc: Process, host: str, port: int) -> list[str]:
    """Arguments after ``python -m uvicorn`` (the same in compose and in ``vnsandbox up``)."""
    return [
        "--factory",
        proc.factory,
        "--host",
        host,
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
        "--timeout-graceful-shutdown",
        "5",
        # httptools, tolerant of the h2c upgrade offers Java clients send (vnsandbox/http11.py).
        "--http",
        HTTP_PROTOCOL,
    ]

"""``vnsandbox openapi --out DIR``: every process's OpenAPI document as a file.

The documents are built from the same app factories and settings (the environment's) that
``vnsandbox up`` runs, so a team can generate clients (Java, .NET, TypeScript, …) without a
running sandbox; a test checks that they equal what the running processes serve.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

#: File name → where the running sandbox serves the same document.
SERVED_AT = {
    "gateway.json": "/_sandbox/openapi.json",
    "identity.json": "/vneid/v1/openapi.json",
    "dossier.json": "/dvcqg/v1/openapi.json",
    "payment.json": "/paygov/v1/openapi.json",
}


def documents() -> dict[str, dict[str, Any]]:
    """The gateway control plane's document and each service's, keyed by file name."""
    from gateway.app import Gateway
    from gateway.settings import GatewaySettings
    from services.dossier.app import create_app as dossier_app
    from services.dossier.settings import DossierSettings
    from services.identity.app import create_app as identity_app
    from services.identity.settings import IdentitySettings
    from services.payment.app import create_app as payment_app
    from services.payment.settings import PaymentSettings

    with tempfile.TemporaryDirectory() as scratch:
        # The app factories migrate a database at build time: a scratch SQLite file per process.
        d = Path(scratch)

        def db(name: str) -> dict[str, Any]:
            return {"database_url": f"sqlite:///{d / name}.db", "data_dir": d}

        return {
            "gateway.json": Gateway(GatewaySettings(**db("gateway"))).control.openapi(),
            "identity.json": identity_app(IdentitySettings(**db("identity"))).openapi(),
            "dossier.json": dossier_app(DossierSettings(**db("dossier"))).openapi(),
            "payment.json": payment_app(PaymentSettings(**db("payment"))).openapi(),
        }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def export(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in documents().items():
        path = out / name
        path.write_text(render(document), encoding="utf-8")
        written.append(path)
    return written

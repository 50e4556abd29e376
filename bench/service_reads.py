"""The simplest reads of the services, direct, against a bare FastAPI hello-world in the same run:
the identity provider's discovery document and JWKS, the dossier service's health check, and a
minimal Node server answering the same discovery document as static JSON (a stand-in for mockpass,
the Node mock the issue compared with, which does not run here).

    .venv/bin/python bench/service_reads.py [--seconds 4] [--quick] [--only NAME] [--out FILE]

Starts its own processes on free loopback ports (identity and dossier on temporary SQLite files,
per-request logging off; the hello-world; ``node`` when it is on PATH).

Rows: ``identity.discovery`` (≥ 1.0×), ``identity.jwks`` (≥ 1.0×), ``identity.mockpass-standin``
(reference), ``dossier.health`` (≥ 0.7×).
"""

from __future__ import annotations

import shutil
import sys
import urllib.request

from _harness import fastapi_hello, free_port, measure, running, scratch, spawn, start_factory
from _table import Options, Row, at_least, standalone

NAMES = ["identity.discovery", "identity.jwks", "identity.mockpass-standin", "dossier.health"]
IDENTITY = ["identity.discovery", "identity.jwks", "identity.mockpass-standin"]
#: What the issue measured for mockpass (Node), as a ratio to the hello-world, where node is absent.
MOCKPASS_DOCUMENTED = 0.59

NODE_STATIC = """
const http = require('http');
const body = Buffer.from(process.env.BODY);
http.createServer((req, res) => {
  res.writeHead(200, {'content-type': 'application/json', 'content-length': body.length});
  res.end(body);
}).listen(Number(process.env.PORT), '127.0.0.1');
"""


def node_row(opts: Options, document: bytes, hello: float) -> Row:
    title = "reference: Node static JSON of the same document (mockpass stand-in)"
    node = shutil.which("node")
    if node is None:
        note = f"node not found: mockpass's documented {MOCKPASS_DOCUMENTED}× of the hello-world, not measured"
        return Row(
            "identity.mockpass-standin",
            title,
            MOCKPASS_DOCUMENTED * hello,
            "req/s",
            hello,
            "FastAPI hello",
            None,
            "documented",
            note=note,
        )
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with running([spawn([node, "-e", NODE_STATIC], {"BODY": document.decode(), "PORT": str(port)})], [url]):
        got = measure(opts, url)
    return Row(
        "identity.mockpass-standin",
        title,
        got.rps,
        "req/s",
        hello,
        "FastAPI hello",
        None,
        got.tool,
        note=f"a minimal Node server; mockpass itself (not run here) was {MOCKPASS_DOCUMENTED}×",
        problem=got.problem,
    )


def rows(opts: Options) -> list[Row]:
    if not opts.wants_any(NAMES):
        return []
    with scratch("reads") as tmp:
        ports = {n: free_port() for n in ("identity", "dossier")}
        identity = f"http://127.0.0.1:{ports['identity']}"
        dossier = f"http://127.0.0.1:{ports['dossier']}"
        procs, ready = [], []
        if opts.wants_any(IDENTITY):
            env = {
                "IDENTITY_DATABASE_URL": f"sqlite:///{tmp}/identity.db",
                "IDENTITY_SEED_PEOPLE": "50",
                "IDENTITY_LOG_REQUESTS": "false",
                "SANDBOX_DATA_DIR": str(tmp),
            }
            procs.append(start_factory("services.identity.app:create_app", ports["identity"], env))
            ready.append(identity + "/_sandbox/health")
        if opts.wants("dossier.health"):
            env = {
                "DOSSIER_DATABASE_URL": f"sqlite:///{tmp}/dossier.db",
                "DOSSIER_LOG_REQUESTS": "false",
                "SANDBOX_DATA_DIR": str(tmp),
            }
            procs.append(start_factory("services.dossier.app:create_app", ports["dossier"], env))
            ready.append(dossier + "/_sandbox/health")
        label = "FastAPI hello"
        out: list[Row] = []
        with running(procs, ready), fastapi_hello() as hello_url:
            hello = measure(opts, hello_url).rps
            cases = [
                (
                    "identity.discovery",
                    "identity discovery document, direct",
                    identity + "/.well-known/openid-configuration",
                    at_least(1.0),
                ),
                ("identity.jwks", "identity JWKS, direct", identity + "/oauth2/jwks", at_least(1.0)),
                ("dossier.health", "dossier /_sandbox/health, direct", dossier + "/_sandbox/health", at_least(0.7)),
            ]
            for name, title, url, target in cases:
                if opts.wants(name):
                    got = measure(opts, url)
                    out.append(Row(name, title, got.rps, "req/s", hello, label, target, got.tool, problem=got.problem))
            if opts.wants("identity.mockpass-standin"):
                with urllib.request.urlopen(identity + "/.well-known/openid-configuration", timeout=10) as resp:
                    document = resp.read()
                out.insert(1 if opts.wants("identity.discovery") else 0, node_row(opts, document, hello))
    return out


if __name__ == "__main__":
    sys.exit(standalone(rows, __doc__))

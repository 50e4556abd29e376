"""``TraCuuHoSo`` of one dossier by ``MaHoSo`` (a primary-key read), direct and through the
gateway, against a bare FastAPI hello-world in the same run.

    .venv/bin/python bench/dossier_lookup.py [--seconds 4] [--quick] [--only NAME] [--out FILE]

Starts its own processes on free loopback ports: the dossier service (temporary SQLite, or a
throw-away PostgreSQL database with ``--postgres``), the gateway (embedded mode) and the
hello-world; files one dossier with ``DongBoHoSoMC`` (bearer = the development unit's API key),
then loads ``POST /api/service {"service": "TraCuuHoSo", "MaHoSo": ...}``.

Rows: ``dossier.lookup.direct`` (≥ 0.3×) and ``dossier.lookup.gateway`` (≥ 0.25×).
"""

from __future__ import annotations

import json
import sys
import urllib.request

from _harness import database, fastapi_hello, free_port, measure, running, scratch, start_factory
from _table import Options, Row, at_least, standalone

NAMES = ["dossier.lookup.direct", "dossier.lookup.gateway"]
TENANT = "bench"
API_KEY = "dvcqg-dev-unit-key"
CODE = "000.00.01.H22-241115-00001"
HEADERS = {"x-sandbox-tenant": TENANT, "authorization": f"Bearer {API_KEY}", "content-type": "application/json"}
RECORD = {
    "MaHoSo": CODE, "MaTTHC": "1.001193", "TenTTHC": "Thủ tục đăng ký khai sinh", "KenhThucHien": 1,
    "ChuHoSo": "Nguyễn Văn An", "LoaiDoiTuong": 1, "SoGiayToChuHoSo": "001090012345",
    "DiaChiChuHoSo": "Số 1 Tràng Tiền, Hà Nội", "NgayTiepNhan": "20241115080000", "NgayHenTra": "20241120170000",
    "TrangThaiHoSo": 2, "DanhSachLePhi": [],
}  # fmt: skip


def call(url: str, body: dict[str, object]) -> dict[str, object]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=HEADERS)
    with urllib.request.urlopen(req, timeout=10) as resp:
        out: dict[str, object] = json.loads(resp.read())
        return out


def rows(opts: Options) -> list[Row]:
    if not opts.wants_any(NAMES):
        return []
    with scratch("lookup") as tmp:
        ports = {n: free_port() for n in ("dossier", "gateway")}
        dossier = f"http://127.0.0.1:{ports['dossier']}"
        gateway = f"http://127.0.0.1:{ports['gateway']}"
        out: list[Row] = []
        with database(opts, tmp, "lookup") as (db_url, db_label):
            env = {"DOSSIER_DATABASE_URL": db_url, "DOSSIER_LOG_REQUESTS": "false", "SANDBOX_DATA_DIR": str(tmp)}
            gw_env = {
                "GATEWAY_DOSSIER_URL": dossier,
                "GATEWAY_LOG_REQUESTS": "false",
                "GATEWAY_DATABASE_URL": f"sqlite:///{tmp}/gateway.db",
                "SANDBOX_DATA_DIR": str(tmp / "gw"),
            }
            procs = [
                start_factory("services.dossier.app:create_app", ports["dossier"], env),
                start_factory("gateway.app:create_app", ports["gateway"], gw_env),
            ]
            ready = [dossier + "/_sandbox/health", gateway + "/_sandbox/health"]
            with running(procs, ready), fastapi_hello() as hello_url:
                filed = call(
                    dossier + "/api/service", {"service": "DongBoHoSoMC", "isUpdating": "False", "data": [RECORD]}
                )
                if filed.get("error_code") != 0:
                    raise RuntimeError(f"filing the dossier to look up failed: {filed}")
                query = json.dumps({"service": "TraCuuHoSo", "MaHoSo": CODE}).encode()
                hello = measure(opts, hello_url).rps
                cases = [
                    ("dossier.lookup.direct", "TraCuuHoSo of one dossier, direct", dossier, at_least(0.3)),
                    (
                        "dossier.lookup.gateway",
                        "TraCuuHoSo of one dossier, via gateway",
                        gateway + "/dvcqg/v1",
                        at_least(0.25),
                    ),
                ]
                for name, title, base, target in cases:
                    if opts.wants(name):
                        got = measure(opts, base + "/api/service", HEADERS, "POST", query)
                        out.append(
                            Row(
                                name,
                                title,
                                got.rps,
                                "req/s",
                                hello,
                                "FastAPI hello",
                                target,
                                got.tool,
                                note=db_label,
                                problem=got.problem,
                            )
                        )
    return out


if __name__ == "__main__":
    sys.exit(standalone(rows, __doc__))

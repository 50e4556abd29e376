"""How fast one service process's outbox drains a backlog into a fast local receiver, against what
that receiver takes from a load generator, in the same run.

    .venv/bin/python bench/outbox_delivery.py [--quick] [--postgres URL] [--out FILE]

Starts the receiver (``bench/fast_receiver.py``) and the dossier service (temporary SQLite, or a
throw-away PostgreSQL database with ``--postgres`` / ``$VNSB_TEST_POSTGRES_URL``) on free loopback
ports. The anchor: the receiver loaded directly (wrk, or the aiohttp client). Then 2,000 deliveries
(200 with ``--quick``) to the receiver, 20 per reference, are committed to the service's outbox in
one transaction (``vnsandbox.outbox.enqueue``); the figure is the rate between the first and the
last arrival. The receiver checks that no reference's deliveries arrive out of order.

Row: ``outbox.delivery`` (≥ 1,000 deliveries/s per process, per-reference order kept).
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
import urllib.request
from typing import Any

from _harness import ROOT, database, free_port, measure, running, scratch, spawn, start_factory
from _table import Options, Row, Target, standalone

sys.path.insert(0, str(ROOT))

NAMES = ["outbox.delivery"]
TENANT = "bench-outbox"
PER_REF = 20


def get_json(url: str, data: bytes | None = None) -> dict[str, Any]:
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=10) as resp:
        out: dict[str, Any] = json.loads(resp.read())
        return out


def fill(database_url: str, target: str, count: int) -> None:
    """``count`` deliveries to ``target``, ``PER_REF`` per reference, committed at once."""
    from sqlalchemy.orm import Session

    from vnsandbox.db import make_engine
    from vnsandbox.outbox import enqueue

    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            for i in range(count):
                ref, seq = f"R{i % (count // PER_REF):05d}", i // (count // PER_REF)
                enqueue(
                    session, TENANT, kind="bench.event", target_url=target, ref=ref, payload={"ref": ref, "seq": seq}
                )
            session.commit()
    finally:
        engine.dispose()


def drain(receiver: str, count: int, timeout: float) -> dict[str, Any]:
    """The receiver's stats once ``count`` arrived, or after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        stats = get_json(receiver + "/stats")
        if stats["count"] >= count or time.monotonic() > deadline:
            return stats
        time.sleep(0.1)


def rows(opts: Options) -> list[Row]:
    if not opts.wants_any(NAMES):
        return []
    count = 200 if opts.quick else 2_000
    ports = {n: free_port() for n in ("receiver", "dossier")}
    receiver = f"http://127.0.0.1:{ports['receiver']}"
    dossier = f"http://127.0.0.1:{ports['dossier']}"
    with contextlib.ExitStack() as cleanup:
        tmp = cleanup.enter_context(scratch("outbox"))
        url, label = cleanup.enter_context(database(opts, tmp, "outbox"))
        env = {"DOSSIER_DATABASE_URL": url, "DOSSIER_LOG_REQUESTS": "false", "SANDBOX_DATA_DIR": str(tmp)}
        procs = [
            spawn([sys.executable, str(ROOT / "bench" / "fast_receiver.py"), str(ports["receiver"])], {}),
            start_factory("services.dossier.app:create_app", ports["dossier"], env),
        ]
        with running(procs, [receiver + "/", dossier + "/_sandbox/health"]):
            body = json.dumps({"ref": "anchor", "seq": 0}).encode()
            anchor = measure(opts, receiver + "/hook", {"content-type": "application/json"}, "POST", body)
            get_json(receiver + "/reset", b"")
            fill(url, receiver + "/hook", count)
            stats = drain(receiver, count, timeout=max(30.0, count / 50))
    got = stats["count"]
    span = (stats["last"] - stats["first"]) if got > 1 else float("nan")
    figure = (got - 1) / span if got > 1 else 0.0
    problems = []
    if got < count:
        problems.append(f"{got} of {count} delivered in time")
    if stats["out_of_order"]:
        problems.append(f"{stats['out_of_order']} deliveries out of per-reference order")
    target = Target(">=", 1000, on="figure", unit="deliveries/s")
    return [
        Row(
            "outbox.delivery",
            "outbox deliveries to a fast local receiver, one process",
            figure,
            "deliveries/s",
            anchor.rps,
            "the receiver under load",
            target,
            f"backlog of {count}; anchor {anchor.tool}",
            note=f"{label}; per-reference order checked",
            problem="; ".join(problems) or None,
            anchor_unit="req/s",
        )
    ]


if __name__ == "__main__":
    sys.exit(standalone(rows, __doc__))

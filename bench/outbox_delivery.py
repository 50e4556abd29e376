"""Outbox delivery rate to a fast local receiver, beside that receiver's own ceiling.

    .venv/bin/python bench/outbox_delivery.py [--deliveries 3000] [--refs 300]
                                              [--postgres postgresql://postgres@127.0.0.1:55432/postgres]
                                              [--before DIR]

A receiver (aiohttp, answering ``{"ok": true}``) runs in its own process on a free loopback
port. For each database (a SQLite file; PostgreSQL when ``--postgres`` or
``VNSB_TEST_POSTGRES_URL`` gives a server, on a throw-away database) the script enqueues
``--deliveries`` signed deliveries spread over ``--refs`` references (dossier / payment
references: one in flight per reference), then times one ``OutboxSender.run_once()`` of this
process until all are delivered: deliveries/s. The anchor, measured in the same run, is the
receiver's ceiling: the same number of POSTs straight from an aiohttp client with 64
connections. ``--before DIR`` measures the outbox of another checkout of the sandbox (say the
previous commit, ``git worktree add``) the same way, side by side. Target: ≥ 1,000/s per process.
Bounded: a few seconds per database and tree.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
from _harness import ROOT, postgres_database, receiver

TARGET = 1000.0


def serve() -> None:
    """The receiver process: answers every POST to ``/hook`` until killed; its first line is its URL."""

    async def run() -> None:
        async with receiver("/hook", 1 << 62, {"ok": True}) as got:
            print(got.url, flush=True)
            await asyncio.Event().wait()

    asyncio.run(run())


@contextlib.contextmanager
def receiver_process() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, cwd=ROOT, text=True, env=os.environ
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


async def anchor(url: str, count: int) -> float:
    """POSTs per second straight from aiohttp (64 connections): the receiver's ceiling."""
    body = json.dumps({"MaHoSo": "X"}).encode()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:
        sem = asyncio.Semaphore(64)

        async def one() -> None:
            async with sem, session.post(url, data=body, headers={"content-type": "application/json"}) as r:
                await r.read()

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(count)))
        return count / (time.perf_counter() - started)


def measure(root: str, database_url: str, url: str, count: int, refs: int) -> float:
    """Run in a child process with ``root`` first on ``sys.path``: deliveries/s of its outbox."""
    sys.path.insert(0, root)
    from vnsandbox.db import ControlBase, Database
    from vnsandbox.outbound import OutboundPolicy
    from vnsandbox.outbox import DELIVERED, Delivery, OutboxBase, OutboxSender, RetryPolicy, enqueue

    print(f"measuring {sys.modules['vnsandbox.outbox'].__file__}", file=sys.stderr)
    db = Database(database_url, [OutboxBase.metadata])
    ControlBase.metadata.create_all(db.engine)
    OutboxBase.metadata.create_all(db.engine)
    with db.session() as s:
        for i in range(count):
            enqueue(
                s,
                "bench",
                kind="bench.event",
                ref=f"REF-{i % refs}",
                target_url=url,
                payload={"MaHoSo": f"REF-{i % refs}", "n": i},
                sign_secret="whsec_bench",
            )
    sender = OutboxSender(db, RetryPolicy(), outbound=OutboundPolicy("embedded"))
    started = time.perf_counter()
    sent = 0
    while sent < count:
        n = sender.run_once()
        if not n:
            break
        sent += n
    elapsed = time.perf_counter() - started
    from sqlalchemy import func, select

    with db.session() as s:
        delivered = s.scalar(select(func.count()).select_from(Delivery).where(Delivery.status == DELIVERED)) or 0
    sender.close()
    db.dispose()
    return delivered / elapsed


def child_rate(root: Path, database_url: str, url: str, count: int, refs: int) -> float:
    args = [sys.executable, __file__, "--measure", str(root), database_url, url, str(count), str(refs)]
    out = subprocess.run(args, cwd=ROOT, check=True, capture_output=True, text=True, env=os.environ)
    return float(out.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite:///{tmp}/outbox.db"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--refs", type=int, default=300)
    parser.add_argument("--postgres", default=os.environ.get("VNSB_TEST_POSTGRES_URL"))
    parser.add_argument("--before", type=Path, help="another checkout of the sandbox to measure side by side")
    args = parser.parse_args()
    trees = ({"before": args.before.resolve()} if args.before else {}) | {"now": ROOT}
    print(f"{args.deliveries} deliveries over {args.refs} references, one process sending")
    with receiver_process() as url:
        for name, tree in trees.items():
            with sqlite_url() as database_url:
                rate = child_rate(tree, database_url, url, args.deliveries, args.refs)
            report("sqlite", name, rate, asyncio.run(anchor(url, args.deliveries)))
        if args.postgres:
            for name, tree in trees.items():
                with postgres_database(args.postgres, "bench_outbox") as database_url:
                    rate = child_rate(tree, database_url, url, args.deliveries, args.refs)
                report("postgresql", name, rate, asyncio.run(anchor(url, args.deliveries)))


def report(label: str, name: str, rate: float, ceiling: float) -> None:
    mark = "✓" if rate >= TARGET else "✗"
    print(
        f"{label:10s} {name:6s} outbox {rate:7.0f} deliveries/s   receiver ceiling {ceiling:7.0f} POST/s   "
        f"ratio {rate / ceiling:4.2f}   target ≥ {TARGET:.0f}/s {mark}",
        flush=True,
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve()
    elif sys.argv[1:2] == ["--measure"]:
        root, database_url, url, count, refs = sys.argv[2:7]
        print(measure(root, database_url, url, int(count), int(refs)))
    else:
        main()

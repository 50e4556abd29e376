"""Every benchmark of ``bench/`` in one run, as one table: each figure, its anchor measured in the
same run, their ratio, the target and ✓/✗.

    .venv/bin/python bench/run.py [--quick] [--seconds S] [--only NAME ...] [--out table.json|table.md]
    ./sandbox bench [same options]      (installs wrk, starts a private PostgreSQL, then runs this)

A benchmark module is a ``bench/*.py`` with ``rows(opts) -> list[Row]`` (see ``bench/_table.py``);
the known ones run in the order of the table below, any other such module after them. ``--only``
keeps the rows whose name contains one of the given names and starts only what those need.
Exit status: 0 when every selected row was measured (whether or not its target is met; with
``--strict`` also every target met), 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import shutil
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from _table import MISSED, Row, add_arguments, failed, options_from, render, write

BENCH = Path(__file__).resolve().parent
#: The modules in the order of the table.
ORDER = [
    "gateway_proxy",
    "service_reads",
    "dossier_lookup",
    "identity_tokens",
    "payment_init",
    "dossier_batch",
    "seed_people",
    "outbox_delivery",
    "startup",
]


def modules() -> list[str]:
    """The benchmark modules: the known ones first, then any other ``bench/*.py`` defining ``rows``."""
    others = sorted(
        p.stem
        for p in BENCH.glob("*.py")
        if not p.stem.startswith("_") and p.stem not in ORDER and "\ndef rows(" in p.read_text()
    )
    return [m for m in ORDER if (BENCH / f"{m}.py").exists()] + others


def run_module(name: str, opts: Any) -> list[Row]:
    try:
        module: ModuleType = importlib.import_module(name)
        names: list[str] = getattr(module, "NAMES", [name])
        if not opts.wants_any(names):
            return []
        say(f"{name}: {', '.join(n for n in names if opts.wants(n))}")
        got: list[Row] = module.rows(opts)
        return got
    except Exception as exc:
        traceback.print_exc()
        wanted = [n for n in getattr(sys.modules.get(name), "NAMES", [name]) if opts.wants(n)] or [name]
        return [failed(n, f"({name}.py)", f"{exc.__class__.__name__}: {exc}") for n in wanted]


def say(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "wrk": shutil.which("wrk"),
        "node": shutil.which("node"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is not met")
    args = parser.parse_args()
    opts = options_from(args)
    before = machine()
    started = time.monotonic()
    tool = f"wrk -t1 -c{opts.connections}" if opts.use_wrk and before["wrk"] else "the aiohttp client (no wrk)"
    say(
        f"{opts.seconds:g} s per row, load from {tool}; database rows on "
        f"{'PostgreSQL' if opts.postgres else 'SQLite (no PostgreSQL given)'}"
    )
    rows: list[Row] = []
    for name in modules():
        rows += run_module(name, opts)
    if not rows:
        say("no row matches --only")
        return 1
    elapsed = time.monotonic() - started
    after = machine()
    print(render(rows))
    print(
        f"\n{before['cpus']} CPUs, load average {before['load_average'][0]:.1f} at the start and "
        f"{after['load_average'][0]:.1f} at the end; {elapsed:.0f} s in all."
    )
    if args.out:
        meta = {
            "machine": before,
            "load_average_end": after["load_average"],
            "seconds": opts.seconds,
            "quick": opts.quick,
            "elapsed_s": round(elapsed, 1),
        }
        write(rows, args.out, meta)
    unmeasured = [r for r in rows if r.problem and r.problem.startswith("not measured")]
    missed = [r for r in rows if r.mark == MISSED and r.target is not None]
    return 1 if unmeasured or (args.strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main())

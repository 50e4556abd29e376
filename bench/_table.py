"""The one shape every benchmark in ``bench/`` reports in, and the table they make together.

A benchmark module exposes ``rows(opts: Options) -> list[Row]``: each row is one figure (what the
sandbox does), its anchor measured in the same run (what the same work costs without the sandbox:
a bare FastAPI hello-world, the RSA signing limit of one core, a raw ``executemany``, ...), their
ratio, and the target. ``bench/run.py`` collects every module's rows into one table; each module
also runs alone (``python bench/<name>.py``) and prints its own rows the same way.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: The table's columns, in order (the JSON rows carry the same names in snake case).
COLUMNS = ("row", "figure", "anchor", "ratio", "target", "✓/✗", "measured with", "note")
MET, MISSED, REFERENCE = "✓", "✗", "·"


@dataclass(frozen=True)
class Target:
    """``figure`` or ``ratio`` (``on``) compared with ``value`` (``op`` is ``>=`` or ``<=``)."""

    op: str
    value: float
    on: str = "ratio"
    unit: str = ""

    def met(self, figure: float, ratio: float) -> bool:
        x = ratio if self.on == "ratio" else figure
        if math.isnan(x):
            return False
        return x >= self.value if self.op == ">=" else x <= self.value

    def __str__(self) -> str:
        sign = "≥" if self.op == ">=" else "≤"
        if self.on == "ratio":
            return f"{sign} {self.value:g}×"
        return f"{sign} {number(self.value)} {self.unit}".rstrip()


def at_least(ratio: float) -> Target:
    return Target(">=", ratio)


def number(x: float) -> str:
    if math.isnan(x):
        return "n/a"
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}" if x < 10 else f"{x:.1f}"


@dataclass
class Row:
    """One line of the table. ``ratio`` is ``figure / anchor``; ``target`` None marks a reference
    row (an anchor shown for comparison, ``·``); ``problem`` fails the row whatever the numbers
    (errors during the measurement, order not kept)."""

    name: str
    title: str
    figure: float
    unit: str
    anchor: float
    anchor_label: str
    target: Target | None
    how: str
    note: str = ""
    problem: str | None = None
    anchor_unit: str = ""

    @property
    def ratio(self) -> float:
        return self.figure / self.anchor if self.anchor and not math.isnan(self.anchor) else float("nan")

    @property
    def mark(self) -> str:
        if self.target is None:
            return MISSED if self.problem else REFERENCE
        return MET if self.problem is None and self.target.met(self.figure, self.ratio) else MISSED

    def cells(self) -> list[str]:
        anchor_unit = self.anchor_unit or self.unit
        ratio = "n/a" if math.isnan(self.ratio) else f"{self.ratio:.3f}×" if self.ratio < 0.1 else f"{self.ratio:.2f}×"
        note = "; ".join(x for x in (self.problem, self.note) if x)
        return [
            f"{self.name}  {self.title}",
            f"{number(self.figure)} {self.unit}",
            f"{number(self.anchor)} {anchor_unit} ({self.anchor_label})",
            ratio,
            str(self.target) if self.target else "—",
            self.mark,
            self.how,
            note,
        ]

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["target"] = str(self.target) if self.target else None
        out["ratio"] = None if math.isnan(self.ratio) else self.ratio
        out["mark"] = self.mark
        return out


def failed(name: str, title: str, error: str) -> Row:
    """The row of a benchmark that could not be measured."""
    nan = float("nan")
    return Row(name, title, nan, "", nan, "—", None, "—", problem=f"not measured: {error}")


@dataclass
class Options:
    """What every benchmark module reads: measurement windows, load shape, which rows."""

    seconds: float = 4.0
    warmup: float = 1.0
    connections: int = 32
    quick: bool = False
    only: tuple[str, ...] = ()
    postgres: str | None = None
    use_wrk: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def wants(self, name: str) -> bool:
        """Whether row ``name`` is selected (``--only`` names: any part of a row's name)."""
        return not self.only or any(part in name for part in self.only)

    def wants_any(self, names: list[str]) -> bool:
        return any(self.wants(n) for n in names)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, help="measurement window per row (default 4, --quick 1)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections of the load (32)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 s windows, small data sets")
    parser.add_argument(
        "--only", action="append", default=[], metavar="NAME", help="only rows whose name contains NAME (repeatable)"
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("VNSB_TEST_POSTGRES_URL") or os.environ.get("VNSB_BENCH_POSTGRES_URL"),
        help="admin URL of a PostgreSQL server for the database rows (default $VNSB_TEST_POSTGRES_URL)",
    )
    parser.add_argument("--no-wrk", action="store_true", help="load from the aiohttp client even when wrk is present")
    parser.add_argument("--out", help="also write the table to this file (.json, otherwise Markdown)")


def options_from(args: argparse.Namespace) -> Options:
    seconds = args.seconds if args.seconds is not None else (1.0 if args.quick else 4.0)
    return Options(
        seconds=seconds,
        warmup=0.5 if args.quick else 1.0,
        connections=args.connections,
        quick=args.quick,
        only=tuple(args.only),
        postgres=args.postgres,
        use_wrk=not args.no_wrk,
    )


def render(rows: list[Row]) -> str:
    """The rows as an aligned text table, with the header and a legend."""
    table = [list(COLUMNS), *(r.cells() for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    lines.append(f"{MET} target met, {MISSED} not met (or not measured), {REFERENCE} a reference row without target.")
    return "\n".join(lines)


def markdown(rows: list[Row]) -> str:
    head = "| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS) + "\n"
    body = "".join("| " + " | ".join(c.replace("|", "\\|") for c in r.cells()) + " |\n" for r in rows)
    return head + body


def write(rows: list[Row], path: str, meta: dict[str, Any]) -> None:
    out = Path(path)
    if out.suffix == ".json":
        out.write_text(json.dumps({**meta, "columns": list(COLUMNS), "rows": [r.as_dict() for r in rows]}, indent=2))
    else:
        out.write_text(markdown(rows))


def standalone(rows_of: Callable[[Options], list[Row]], doc: str | None) -> int:
    """``main`` of a benchmark module run alone: the common options, its rows as a table."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parser.parse_args()
    opts = options_from(args)
    rows = rows_of(opts)
    print(render(rows))
    if args.out:
        write(rows, args.out, {"seconds": opts.seconds, "quick": opts.quick})
    return 0

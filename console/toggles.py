"""Training faults as named toggles: each is one gateway fault rule for the tenant, on while a
rule of that shape exists (``POST /_sandbox/faults``; off: ``DELETE /_sandbox/faults/{id}``).

A toggle is turned on with its parameter (PayGov's delay in seconds, the status VNeID answers)
and a probability, both checked here (bounded, Vietnamese messages) before the gateway sees them;
the rule's shape (kind, API, method, path, and a fixed parameter such as ``phase``) is what makes
a rule the toggle's, whatever its adjustable values.

The platforms' switches take the parameters their service declares (``parameters`` of
``GET /{api}/v1/_sandbox/switches``, JSON Schema properties); :func:`switch_params` reads a form
against them the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from vnsandbox.errors import SandboxError


class BadParam(SandboxError):
    status_code = 400
    code = "INVALID_PARAM"
    message_vi = "Tham số không hợp lệ"
    message_en = "Invalid parameter"


def _fmt(x: float) -> str:
    """A number as Vietnamese write it: ``0,5``; ``120``."""
    return plain(x).replace(".", ",")


def plain(x: float) -> str:
    """A bound as typed into a field: ``1000000000``, ``0.1`` (no exponent)."""
    return str(int(x)) if float(x).is_integer() else f"{x:f}".rstrip("0").rstrip(".")


def number(text: str, *, label_vi: str, label_en: str, low: float, high: float, integer: bool) -> float:
    """A form's number (a decimal comma accepted) within ``low`` … ``high``."""
    kind_vi, kind_en = ("số nguyên", "a whole number") if integer else ("số", "a number")
    bounds_vi, bounds_en = f"từ {_fmt(low)} đến {_fmt(high)}", f"from {plain(low)} to {plain(high)}"
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or (integer and not value.is_integer()) or not low <= value <= high:
        raise BadParam(
            f"{label_en} must be {kind_en} {bounds_en}",
            f"{label_vi} phải là {kind_vi} {bounds_vi}",
        )
    return value


@dataclass(frozen=True)
class Param:
    """A toggle's adjustable parameter: a form field, its bounds, and where it goes in the rule."""

    field: str
    vi: str
    en: str
    low: float
    high: float
    default: float
    integer: bool
    #: The form's value → the rule's ``(top-level or params) key, value``.
    to_rule: Callable[[float], tuple[str, Any]]
    #: The rule → the form's value (to show the active rule's setting).
    of_rule: Callable[[dict[str, Any]], Any]
    unit_vi: str = ""
    unit_en: str = ""

    def read(self, text: str) -> float:
        if not text.strip():
            return self.default
        return number(text, label_vi=self.vi, label_en=self.en, low=self.low, high=self.high, integer=self.integer)


PROBABILITY = Param(
    "probability",
    "Xác suất (%)",
    "Probability (%)",
    1,
    100,
    100,
    False,
    lambda pct: ("probability", round(pct / 100, 4)),
    lambda rule: _fmt(round(100 * float(rule.get("probability", 1.0)), 2)),
    "%",
    "%",
)


@dataclass(frozen=True)
class Preset:
    name: str
    vi: str
    en: str
    #: The rule's shape: kind, api, method, path, and fixed params (e.g. ``phase``).
    rule: dict[str, Any]
    #: The adjustable parameters, the probability last.
    params: tuple[Param, ...] = field(default=(PROBABILITY,))

    def matches(self, rule: dict[str, Any]) -> bool:
        match = rule.get("match", rule)
        same = all(str(match.get(k, "*")) == str(self.rule.get(k, "*")) for k in ("api", "method", "path"))
        params = rule.get("params") or {}
        return (
            same
            and rule.get("kind") == self.rule["kind"]
            and all(params.get(k) == v for k, v in self.rule.get("params", {}).items())
            and params.get("distribution", "fixed") == "fixed"
        )

    def build(self, form: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The rule to create: the shape with the form's values (absent: the defaults);
        :class:`BadParam` for a value out of bounds."""
        rule = {**self.rule, "params": dict(self.rule.get("params", {}))}
        for p in self.params:
            key, value = p.to_rule(p.read((form or {}).get(p.field, "")))
            if key == "probability":
                rule[key] = value
            else:
                rule["params"][key] = value
        return rule

    def settings(self, rule: dict[str, Any]) -> list[tuple[Param, Any]]:
        """The active rule's values of the adjustable parameters."""
        return [(p, p.of_rule(rule)) for p in self.params]


PRESETS = (
    Preset(
        "vneid-down",
        "VNeID ngừng hoạt động",
        "VNeID is down",
        {"kind": "error", "api": "vneid"},
        (
            Param(
                "status",
                "Mã trạng thái HTTP",
                "HTTP status",
                400,
                599,
                503,
                True,
                lambda s: ("status", int(s)),
                lambda rule: (rule.get("params") or {}).get("status", 503),
            ),
            PROBABILITY,
        ),
    ),
    Preset(
        "paygov-slow",
        "PayGov chậm",
        "PayGov is slow",
        {"kind": "latency", "api": "paygov"},
        (
            Param(
                "seconds",
                "Độ trễ (giây)",
                "Delay (seconds)",
                0.1,
                120,
                5,
                False,
                lambda s: ("ms", round(s * 1000)),
                lambda rule: _fmt(float((rule.get("params") or {}).get("ms", 0)) / 1000),
                "giây",
                "s",
            ),
            PROBABILITY,
        ),
    ),
    Preset(
        "dvcqg-lost-reply",
        "DVCQG mất phản hồi sau khi ghi",
        "DVCQG loses the reply after writing",
        {"kind": "reset", "api": "dvcqg", "method": "POST", "params": {"phase": "after"}},
    ),
)
BY_NAME = {p.name: p for p in PRESETS}


def active(preset: Preset, rules: list[dict[str, Any]]) -> list[str]:
    """Ids of the tenant's rules that are this preset."""
    return [str(r.get("id")) for r in rules if preset.matches(r)]


@dataclass(frozen=True)
class SwitchParam:
    """One parameter a platform's switch declares (from its JSON Schema property)."""

    name: str
    integer: bool
    low: float
    high: float
    default: Any
    description: str

    @property
    def bounds(self) -> str:
        return f"{plain(self.low)}–{plain(self.high)}"

    @classmethod
    def of(cls, name: str, schema: Mapping[str, Any]) -> SwitchParam:
        return cls(
            name,
            schema.get("type") == "integer",
            float(schema.get("minimum", schema.get("exclusiveMinimum", -1e15))),
            float(schema.get("maximum", schema.get("exclusiveMaximum", 1e15))),
            schema.get("default"),
            str(schema.get("description") or ""),
        )


def switch_params(declared: Mapping[str, Mapping[str, Any]], form: Mapping[str, str]) -> dict[str, Any]:
    """A switch's parameters from its form: the declared ones given a value (empty: the
    service's default), each a bounded number; :class:`BadParam` otherwise."""
    out: dict[str, Any] = {}
    for name, schema in declared.items():
        text = form.get(f"param_{name}", "").strip()
        if not text:
            continue
        p = SwitchParam.of(name, schema)
        value = number(text, label_vi=name, label_en=name, low=p.low, high=p.high, integer=p.integer)
        out[name] = int(value) if p.integer else value
    return out

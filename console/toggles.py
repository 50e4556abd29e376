"""Training faults as named toggles: each is one gateway fault rule for the tenant, on while a
rule of that shape exists (``POST /_sandbox/faults``; off: ``DELETE /_sandbox/faults/{id}``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Preset:
    name: str
    vi: str
    en: str
    rule: dict[str, Any]

    def matches(self, rule: dict[str, Any]) -> bool:
        match = rule.get("match", rule)
        same = all(str(match.get(k, "*")) == str(self.rule.get(k, "*")) for k in ("api", "method", "path"))
        params = rule.get("params") or {}
        return (
            same
            and rule.get("kind") == self.rule["kind"]
            and all(params.get(k) == v for k, v in self.rule.get("params", {}).items())
        )


PRESETS = (
    Preset(
        "vneid-down",
        "VNeID ngừng hoạt động",
        "VNeID is down",
        {"kind": "error", "api": "vneid", "params": {"status": 503}},
    ),
    Preset(
        "paygov-slow",
        "PayGov chậm 5 giây",
        "PayGov 5 seconds slow",
        {"kind": "latency", "api": "paygov", "params": {"ms": 5000}},
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

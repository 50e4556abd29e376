"""The procedure catalogue (danh mục TTHC) with a documented fee schedule.

Seeded from ``data/tthc-catalogue.csv`` (399 real procedures of the national portal,
copied from the shared data set so the sandbox needs nothing outside itself at run time).
The catalogue is reference data, read-only and the same for every tenant, so it lives in
memory, not in a table.

The CSV's fee column is the portal's fee text and is not reliable for billing (see
``SOURCES.md``): blank where the source showed implausible amounts or USD, and "Miễn phí"
as the portal's default even where the notes name a fee. The sandbox's fee schedule, in
this order (the first rule that applies wins; ``FeeRule.basis`` says which one did):

0. ``per_copy``: certification (Chứng thực) is charged per page, copy or signature, so the
   total varies with the documents: any non-negative amount is accepted.
1. ``portal``: the CSV gives amounts of at least 1,000 VNĐ; per channel where it lists one
   per channel (trực tuyến = 2, trực tiếp = 1, dịch vụ bưu chính = 3).
2. ``gplx``: driving-licence issue / exchange / re-issue: 135,000 VNĐ on every channel
   (the fee the portal's notes quote; Thông tư 37/2023/TT-BTC).
3. ``lltp``: judicial-record certificates (Lý lịch tư pháp): 200,000 VNĐ
   (Thông tư 244/2016/TT-BTC).
4. ``free_by_law``: birth and death registration (khai sinh, khai tử): free.
5. ``province_set``: other civil-status (Hộ tịch) procedures: fee set by each province's
   People's Council, so any non-negative amount is accepted.
6. ``variable``: a blank fee (implausible or foreign-currency amounts in the source):
   any non-negative amount is accepted.
7. ``free``: the remaining "Miễn phí" procedures: free.

A fee is ``None`` where it is variable (rules 0, 5 and 6); the fee check then only asks for
non-negative amounts, and the procedure counts as one with fees for the 766 indicators.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

CATALOGUE_CSV = Path(__file__).parent / "data" / "tthc-catalogue.csv"

CHANNELS = (1, 2, 3)
_CHANNEL_WORDS = {"trực tiếp": 1, "trực tuyến": 2, "dịch vụ bưu chính": 3}
_AMOUNT = re.compile(r"(\d[\d.]*)\s*VNĐ\s*(?:\(([^)]*)\))?")


@dataclass(frozen=True)
class FeeRule:
    """The fee of a procedure per channel (VNĐ); ``None`` means variable."""

    by_channel: dict[int, int | None]
    basis: str

    def amount(self, channel: int) -> int | None:
        return self.by_channel.get(channel, self.by_channel.get(1))

    @property
    def has_fee(self) -> bool:
        """True when the procedure may charge something (variable counts)."""
        return any(v is None or v > 0 for v in self.by_channel.values())

    @property
    def is_free(self) -> bool:
        return all(v == 0 for v in self.by_channel.values())


@dataclass(frozen=True)
class Procedure:
    code: str
    name: str
    field_name: str
    levels: tuple[str, ...]
    fee_text: str
    fee: FeeRule
    #: Other names under which the same code is listed (the source has 3 codes twice).
    other_names: tuple[str, ...] = field(default=())

    def to_wire(self) -> dict[str, object]:
        return {
            "MaTTHC": self.code,
            "TenTTHC": self.name,
            "TenLinhVuc": self.field_name,
            "CapThucHien": list(self.levels),
            "LePhiCongBo": self.fee_text,
            "LePhi": {str(k): v for k, v in sorted(self.fee.by_channel.items())},
            "CanCuLePhi": self.fee.basis,
        }


def _all(amount: int | None) -> dict[int, int | None]:
    return dict.fromkeys(CHANNELS, amount)


def parse_portal_fee(text: str) -> dict[int, int | None] | None:
    """Amounts from the portal's fee text, per channel; ``None`` if it names none ≥ 1,000."""
    matches = _AMOUNT.findall(text)
    if not matches:
        return None
    out: dict[int, int | None] = {}
    for raw, channels in matches:
        amount = int(raw.replace(".", ""))
        if amount < 1000:
            return None
        targets = [c for word, c in _CHANNEL_WORDS.items() if word in channels] if channels else list(CHANNELS)
        for c in targets or CHANNELS:
            out[c] = amount
    for c in CHANNELS:
        out.setdefault(c, out.get(1) if 1 in out else next(iter(out.values())))
    return out


def fee_rule(name: str, field_name: str, fee_text: str) -> FeeRule:
    """The sandbox's fee schedule for one catalogue row (rules in the module docstring)."""
    lname = name.lower()
    if field_name == "Chứng thực":
        return FeeRule(_all(None), "per_copy")
    portal = parse_portal_fee(fee_text)
    if portal is not None:
        return FeeRule(portal, "portal")
    if "giấy phép lái xe" in lname and any(w in lname for w in ("cấp giấy", "đổi giấy", "cấp lại giấy")):
        return FeeRule(_all(135_000), "gplx")
    if field_name == "Lý lịch tư pháp":
        return FeeRule(_all(200_000), "lltp")
    if field_name == "Hộ tịch" and ("khai sinh" in lname or "khai tử" in lname):
        return FeeRule(_all(0), "free_by_law")
    if field_name == "Hộ tịch":
        return FeeRule(_all(None), "province_set")
    if not fee_text.strip():
        return FeeRule(_all(None), "variable")
    return FeeRule(_all(0), "free")


@cache
def catalogue() -> dict[str, Procedure]:
    """Procedure code → procedure (first row wins for the 3 codes listed twice)."""
    out: dict[str, Procedure] = {}
    with CATALOGUE_CSV.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            code = row["ma_tthc"].strip()
            name = row["ten_tthc"].strip()
            if code in out:
                prev = out[code]
                out[code] = Procedure(
                    prev.code,
                    prev.name,
                    prev.field_name,
                    prev.levels,
                    prev.fee_text,
                    prev.fee,
                    (*prev.other_names, name),
                )
                continue
            levels = tuple(x.strip() for x in row["cap_thuc_hien"].split(";") if x.strip())
            out[code] = Procedure(
                code=code,
                name=name,
                field_name=row["linh_vuc"].strip(),
                levels=levels,
                fee_text=row["le_phi"].strip(),
                fee=fee_rule(name, row["linh_vuc"].strip(), row["le_phi"]),
            )
    return out


def get(code: str) -> Procedure | None:
    return catalogue().get(code)


def search(text: str = "", field_name: str = "", limit: int = 50, offset: int = 0) -> tuple[int, list[Procedure]]:
    """Procedures whose code or name contains ``text`` and whose field contains ``field_name``."""
    t = text.lower().strip()
    f = field_name.lower().strip()
    hits = [
        p
        for p in catalogue().values()
        if (not t or t in p.code or t in p.name.lower()) and (not f or f in p.field_name.lower())
    ]
    return len(hits), hits[offset : offset + limit]

"""Bank, channel and e-wallet codes for payment pages.

Banks come from ``data/bank-codes.csv`` (VNPay codes, NAPAS/VietQR short codes and BINs,
gathered from public listings); the e-wallets are codes the sandbox chose.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from pathlib import Path

BANK_CODES_CSV = Path(__file__).parent / "data" / "bank-codes.csv"

#: E-wallets offered on the page besides the banks of bank-codes.csv (codes chosen by the sandbox).
WALLETS = (
    ("MOMO", "Ví MoMo"),
    ("ZALOPAY", "Ví ZaloPay"),
    ("VIETTELMONEY", "Viettel Money"),
    ("VNPTMONEY", "VNPT Money"),
)
#: Payment-gateway channels listed in the CSV beside the banks.
CHANNEL_CODES = ("VNPAYQR", "VNBANK", "INTCARD")


@dataclass(frozen=True)
class Bank:
    code: str
    name: str
    group: str


@functools.cache
def banks(path: Path = BANK_CODES_CSV) -> tuple[Bank, ...]:
    """Banks and channels for the payment page: channels, wallets, then NAPAS banks."""
    channels: list[Bank] = []
    napas: list[Bank] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            code = row["code"].strip()
            key = f"{row['gateway']}:{code}"
            if not code or key in seen:
                continue
            seen.add(key)
            if row["gateway"] == "napas":
                napas.append(Bank(code, row["ten_ngan_hang"].strip(), "bank"))
            elif code in CHANNEL_CODES:
                channels.append(Bank(code, row["ten_ngan_hang"].strip(), "channel"))
    wallets = [Bank(c, n, "wallet") for c, n in WALLETS]
    return (*channels, *wallets, *sorted(napas, key=lambda b: b.code))

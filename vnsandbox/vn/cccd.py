"""Rules of the personal identification number (số định danh cá nhân / CCCD), 12 digits.

Shared by the population generator (which only makes numbers these rules accept) and the
validator behind every endpoint that takes a number, so the two can never disagree.

- digits 1–3: province code of birth registration (the 63 pre-2025 provinces, listed in
  ``data/cccd-province-codes.csv``; numbers issued before the 2025 merger keep their codes);
- digit 4: century and sex: 0/1 born 1900–1999, 2/3 2000–2099, 4/5 2100s, 6/7 2200s, 8/9 2300s;
  even = male, odd = female;
- digits 5–6: last two digits of the birth year;
- digits 7–12: random. There is no check digit.

Given the current date (the tenant's test-clock today), a number whose digits 4–6 mean a birth
year after the current year is refused too (rule :data:`FUTURE_BIRTH_RULE`).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Literal

Sex = Literal["M", "F"]

PROVINCE_CODES_CSV = Path(__file__).parent / "data" / "cccd-province-codes.csv"
FIRST_CENTURY = 1900
LAST_YEAR = 2399
#: Rule of a number meaning a birth year after the current year.
FUTURE_BIRTH_RULE = "birth_year_in_future"


@cache
def province_codes() -> dict[str, str]:
    """Province code (``"001"``) → name of the pre-2025 province."""
    with PROVINCE_CODES_CSV.open(encoding="utf-8") as f:
        return {row["code"]: row["province_before_2025"] for row in csv.DictReader(f)}


@dataclass(frozen=True)
class Problem:
    """One rule a number breaks: machine-readable ``rule`` and messages in both languages."""

    rule: str
    message_en: str
    message_vi: str

    def as_detail(self, field: str = "SoDinhDanh") -> dict[str, str]:
        return {"field": field, "rule": self.rule, "message": self.message_en, "message_vi": self.message_vi}


@dataclass(frozen=True)
class Decoded:
    """What a well-formed number says about its holder."""

    province_code: str
    sex: Sex
    century_start: int
    year_last_two: int

    @property
    def birth_year(self) -> int:
        return self.century_start + self.year_last_two


def century_sex_digit(birth_year: int, sex: Sex) -> int:
    """Digit 4 for someone born in ``birth_year`` of ``sex``."""
    if not FIRST_CENTURY <= birth_year <= LAST_YEAR:
        raise ValueError(f"birth year {birth_year} is outside {FIRST_CENTURY}–{LAST_YEAR}")
    return (birth_year - FIRST_CENTURY) // 100 * 2 + (1 if sex == "F" else 0)


def make(province_code: str, birth_year: int, sex: Sex, serial: int) -> str:
    """Compose a valid number; ``serial`` (0–999999) becomes digits 7–12."""
    if province_code not in province_codes():
        raise ValueError(f"unknown province code {province_code!r}")
    if not 0 <= serial <= 999_999:
        raise ValueError("serial must be between 0 and 999999")
    return f"{province_code}{century_sex_digit(birth_year, sex)}{birth_year % 100:02d}{serial:06d}"


def format_problems(number: str) -> list[Problem]:
    """Rules of the number alone: 12 digits, known province code."""
    if len(number) != 12 or not number.isascii() or not number.isdigit():
        return [
            Problem(
                "format",
                f"Must be exactly 12 digits (got {len(number)} characters"
                + ("" if number.isascii() and number.isdigit() else ", not all digits")
                + ")",
                "Số định danh phải gồm đúng 12 chữ số",
            )
        ]
    code = number[:3]
    if code not in province_codes():
        return [
            Problem(
                "province_code",
                f"Digits 1–3 ({code}) are not a province code of birth registration",
                f"Ba chữ số đầu ({code}) không phải mã tỉnh nơi đăng ký khai sinh",
            )
        ]
    return []


def decode(number: str) -> Decoded:
    """Decode a number that passes :func:`format_problems` (``ValueError`` otherwise)."""
    if format_problems(number):
        raise ValueError(f"not a well-formed identification number: {number!r}")
    digit = int(number[3])
    return Decoded(
        province_code=number[:3],
        sex="F" if digit % 2 else "M",
        century_start=FIRST_CENTURY + digit // 2 * 100,
        year_last_two=int(number[4:6]),
    )


def problems(
    number: str, birth_date: date | None = None, sex: Sex | None = None, today: date | None = None
) -> list[Problem]:
    """Every rule ``number`` breaks, also against a known date of birth and sex, and, given
    ``today``, whether it means a birth year after today's year."""
    found = format_problems(number)
    if found:
        return found
    d = decode(number)
    out: list[Problem] = []
    if today is not None and d.birth_year > today.year:
        out.append(
            Problem(
                FUTURE_BIRTH_RULE,
                f"Digits 4–6 ({number[3:6]}) mean born in {d.birth_year}, after the current year {today.year}",
                f"Chữ số thứ 4–6 ({number[3:6]}) chỉ năm sinh {d.birth_year}, sau năm hiện tại {today.year}",
            )
        )
    if birth_date is not None:
        if not d.century_start <= birth_date.year < d.century_start + 100:
            out.append(
                Problem(
                    "century",
                    f"Digit 4 ({number[3]}) means born {d.century_start}–{d.century_start + 99}, "
                    f"but the date of birth is in {birth_date.year}",
                    f"Chữ số thứ 4 ({number[3]}) chỉ thế kỷ sinh {d.century_start}–{d.century_start + 99}, "
                    f"không khớp năm sinh {birth_date.year}",
                )
            )
        if birth_date.year % 100 != d.year_last_two:
            out.append(
                Problem(
                    "birth_year",
                    f"Digits 5–6 ({number[4:6]}) must be the last two digits of the birth year {birth_date.year}",
                    f"Chữ số thứ 5–6 ({number[4:6]}) phải là hai số cuối của năm sinh {birth_date.year}",
                )
            )
    if sex is not None and sex != d.sex:
        out.append(
            Problem(
                "sex",
                f"Digit 4 ({number[3]}) is {'odd (female)' if d.sex == 'F' else 'even (male)'}, "
                f"but the sex given is {'female' if sex == 'F' else 'male'}",
                f"Chữ số thứ 4 ({number[3]}) chỉ giới tính {'nữ' if d.sex == 'F' else 'nam'}, "
                f"không khớp giới tính {'nữ' if sex == 'F' else 'nam'}",
            )
        )
    return out


def is_valid(number: str, birth_date: date | None = None, sex: Sex | None = None, today: date | None = None) -> bool:
    return not problems(number, birth_date, sex, today)

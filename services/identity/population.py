"""The synthetic population: deterministic from a seed, written with bulk inserts.

Everything here is synthetic. Vietnamese names come from :mod:`vnsandbox.vn.names`
(family names with the commonly reported frequencies, middle and given names by sex, composed
in Vietnamese order: family name, middle name, given name; no part repeated), foreigners' names
from Faker's person lists of their country, addresses from the wards and
provinces of the ``vietnam-provinces`` package (today's 34 provinces), identification
numbers from :mod:`vnsandbox.vn.cccd`, so the generator can only make numbers the
validator accepts.

Shares (of the people generated; tested):
- households of 1–6 people sharing one permanent address (head, spouse, children, parent);
- about 2 % deceased, about 4 % of adults with an expired card;
- cards follow the renewal rule: a card expires at the first 25th, 40th or 60th birthday after
  it was issued, and one issued at 60 or later never expires; an expired card is one its holder
  did not renew at such a birthday in the last ~3 years (it expired on that birthday);
- about 1 % of households are one foreigner (about 0.4 % of people; assurance level 1 only);
- adults (14+): about 70 % level 2, 20 % level 1, 10 % without a VNeID account; children none.

Ages and document dates are computed against :data:`REFERENCE_DATE` rather than today so that
the same seed gives the same people on any day.
"""

from __future__ import annotations

import hashlib
import random
import unicodedata
import uuid
import zlib
from bisect import bisect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from services.identity import loading
from services.identity.loading import COLUMNS
from services.identity.loading import insert_people as insert_people
from services.identity.models import Person, PopulationInfo
from vnsandbox.vn import cccd, names

_T = TypeVar("_T")

REFERENCE_DATE = date(2026, 1, 1)
#: Namespace of the stable ``sub``/``TechID`` derived from a person's number.
TECH_ID_NAMESPACE = uuid.UUID("6f1c2a4e-9d1b-5c3e-8a7f-2b4d6e8f0a1c")
_TECH_ID_PREFIX = TECH_ID_NAMESPACE.bytes
#: Of the people whose renewal birthday (25, 40, 60) passed in the last EXPIRED_WINDOW_DAYS,
#: the share who have not renewed (their card expired on that birthday): about 4 % of adults.
EXPIRED_WINDOW_DAYS = 1000
NOT_RENEWED_SHARE = 0.35

PHONE_PREFIXES = [
    "032",
    "033",
    "034",
    "035",
    "036",
    "037",
    "038",
    "039",
    "070",
    "076",
    "077",
    "078",
    "079",
    "081",
    "082",
    "083",
    "084",
    "085",
    "086",
    "088",
    "089",
    "090",
    "091",
    "093",
    "094",
    "096",
    "097",
    "098",
]
EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com")
STREETS = (
    "Lê Lợi",
    "Trần Hưng Đạo",
    "Nguyễn Trãi",
    "Lý Thường Kiệt",
    "Hai Bà Trưng",
    "Quang Trung",
    "Nguyễn Huệ",
    "Phan Chu Trinh",
    "Lê Duẩn",
    "Điện Biên Phủ",
    "Nguyễn Văn Cừ",
    "Hùng Vương",
    "Trần Phú",
    "Lê Hồng Phong",
    "Hoàng Văn Thụ",
    "Võ Thị Sáu",
    "Nguyễn Thị Minh Khai",
    "Phạm Văn Đồng",
    "Nguyễn Du",
    "Bà Triệu",
)
#: Nationality of generated foreigners → Faker locale their names come from (Latin script,
#: as on the passports their numbers are registered with).
FOREIGN_LOCALES = {"USA": "en_US", "FRA": "fr_FR", "DEU": "de_DE", "GBR": "en_GB", "ESP": "es_ES"}


@dataclass(frozen=True)
class Weighted:
    """Names and their cumulative weights, for ``random.choices``."""

    names: tuple[str, ...]
    cum_weights: tuple[float, ...]

    @classmethod
    def of(cls, weights: dict[str, float]) -> Weighted:
        total = 0.0
        cum = []
        for w in weights.values():
            total += w
            cum.append(total)
        return cls(tuple(weights), tuple(cum))

    def pick(self, rng: random.Random) -> str:
        # What ``rng.choices(names, cum_weights=...)[0]`` does (the same draw), without building a list.
        return self.names[bisect(self.cum_weights, rng.random() * self.cum_weights[-1], 0, len(self.names) - 1)]


@dataclass(frozen=True)
class NamePools:
    family: Weighted
    middle_male: Weighted
    middle_female: Weighted
    given_male: tuple[str, ...]
    given_female: tuple[str, ...]
    foreign: dict[str, tuple[tuple[str, ...], tuple[str, ...]]]


@cache
def name_pools() -> NamePools:
    """Vietnamese names from :mod:`vnsandbox.vn.names`; foreigners' from Faker's locales."""
    import importlib

    foreign: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    for nationality, locale in FOREIGN_LOCALES.items():
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        family = tuple(provider.last_names)[:80]
        given_m = tuple(provider.first_names_male)[:80]
        given_f = tuple(provider.first_names_female)[:80]
        foreign[nationality] = (
            tuple(f"{g} {f}" for g, f in zip(given_m, family * 2, strict=False)),
            tuple(f"{g} {f}" for g, f in zip(given_f, reversed(family * 2), strict=False)),
        )
    return NamePools(
        family=Weighted.of(names.FAMILY_NAME_SHARES),
        middle_male=Weighted.of(names.MIDDLE_MALE),
        middle_female=Weighted.of(names.MIDDLE_FEMALE),
        given_male=names.GIVEN_MALE,
        given_female=names.GIVEN_FEMALE,
        foreign=foreign,
    )


@dataclass(frozen=True)
class Place:
    ward_code: str
    ward_name: str
    province_code: str
    province_name: str


@cache
def places() -> tuple[Place, ...]:
    """Every ward of today's provinces, in code order (so choices are deterministic)."""
    from vietnam_provinces import Province, Ward

    provinces = {int(p.code): p.name for p in Province.iter_all()}
    return tuple(
        Place(
            ward_code=f"{int(w.code):05d}",
            ward_name=w.name,
            province_code=f"{int(w.province_code):02d}",
            province_name=provinces[int(w.province_code)],
        )
        for w in sorted(Ward.iter_all(), key=lambda w: int(w.code))
    )


_REFERENCE_ORDINAL = REFERENCE_DATE.toordinal()
_ONE_DAY = timedelta(days=1)
_FIVE_YEARS_BEFORE_REFERENCE = REFERENCE_DATE - timedelta(days=5 * 365)


def _days_before_reference(days: int) -> date:
    """``REFERENCE_DATE - timedelta(days=days)``."""
    return date.fromordinal(_REFERENCE_ORDINAL - days)


def tech_id(number: str) -> str:
    """The stable opaque id (``sub``, ``TechID``) of the holder of ``number``: the text of
    ``uuid.uuid5(TECH_ID_NAMESPACE, number)``, computed without building UUID objects."""
    h = hashlib.sha1(_TECH_ID_PREFIX + number.encode(), usedforsecurity=False).hexdigest()
    # Of the first 16 bytes: the version (5) in the high nibble of byte 6, the RFC 4122 variant
    # (binary 10) in the two high bits of byte 8.
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT_DIGIT[h[16]]}{h[17:20]}-{h[20:32]}"


#: Hex digit → the digit with its two high bits set to the RFC 4122 variant (binary 10).
_VARIANT_DIGIT = {d: f"{(int(d, 16) & 0x3) | 0x8:x}" for d in "0123456789abcdef"}


def ascii_fold(text: str) -> str:
    """``"Nguyễn Văn Đức"`` → ``"nguyen van duc"``."""
    text = text.replace("Đ", "D").replace("đ", "d")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _email_name(full_name: str) -> str:
    """``"Nguyễn Văn Đức"`` → ``"nguyen.van.duc"`` (each name part folded once: the parts repeat)."""
    return ".".join(map(_folded_part, full_name.split(" ")))


@cache
def _folded_part(part: str) -> str:
    return ascii_fold(part)


@cache  # a population has a few tens of thousands of distinct birthdays, asked about many times each
def add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def _latest_birth_aged(years: int, on: date) -> date:
    """The latest birth date whose ``years``-th birthday (:func:`add_years`) is on or before ``on``."""
    birth = add_years(on, -years) + timedelta(days=3)
    while add_years(birth, years) > on:
        birth -= timedelta(days=1)
    return birth


#: Who is 14 (holds a card) on the reference date: born on or before this day.
_ADULT_BORN_BY = _latest_birth_aged(14, REFERENCE_DATE)

#: Birthdays at which a card expires (one issued at the last of them or later never does).
CARD_RENEWAL_AGES = (25, 40, 60)


_AGE_1, _AGE_2, _AGE_3 = CARD_RENEWAL_AGES


@cache  # as add_years: a few tens of thousands of distinct birthdays
def renewal_birthdays(birth: date) -> tuple[date, ...]:
    """The 25th, 40th and 60th birthdays of someone born on ``birth`` (:func:`add_years`)."""
    year = birth.year
    if birth.month == 2 and birth.day == 29:
        return tuple(add_years(birth, age) for age in CARD_RENEWAL_AGES)
    # Nearly every birthday is new to the cache: three plain replacements, no call per age.
    replace = birth.replace
    return (replace(year=year + _AGE_1), replace(year=year + _AGE_2), replace(year=year + _AGE_3))


def card_expiry(birth: date, after: date) -> date | None:
    """First renewal birthday (25, 40, 60) after ``after``; ``None`` past 60 (valid for life)."""
    for milestone in renewal_birthdays(birth):
        if milestone > after:
            return milestone
    return None


def last_renewal_birthday(birth: date, on: date) -> date | None:
    """The latest renewal birthday (25, 40, 60) on or before ``on``; ``None`` before the 25th."""
    last = None
    for milestone in renewal_birthdays(birth):
        if milestone > on:
            break
        last = milestone
    return last


class SerialAllocator:
    """Digits 7–12 without collisions in one run: a per-prefix counter through a bijection."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        #: (province, birth year, sex) → [prefix (digits 1–6), its offset, numbers given so far]
        self._slots: dict[tuple[str, int, str], list[Any]] = {}

    def number(self, province_code: str, birth_year: int, sex: cccd.Sex) -> str:
        slot = self._slots.get((province_code, birth_year, sex))
        if slot is None:  # (province, year, sex) → prefix is one to one
            first = f"{province_code}{cccd.century_sex_digit(birth_year, sex)}{birth_year % 100:02d}"
            offset = zlib.crc32(f"{first}:{self.seed}".encode()) % 1_000_000
            slot = self._slots[(province_code, birth_year, sex)] = [first, offset, 0]
        prefix: str = slot[0]
        n: int = slot[2]
        slot[2] = n + 1
        # 7919 is coprime with 10**6, so n → serial is a bijection on 0..999999.
        return prefix + f"{(n * 7919 + slot[1]) % 1_000_000:06d}"


class Draws(random.Random):
    """The generator's random draws: each the number ``random.Random``'s own method draws from
    the same state, without that method's argument checks and layers of calls (most of what a
    person costs). Integers come from CPython's rejection sampling on ``getrandbits``
    (``_randbelow_with_getrandbits``); arguments are trusted."""

    def below(self, n: int) -> int:
        """``randrange(n)``."""
        getrandbits = self.getrandbits
        k = n.bit_length()
        r = getrandbits(k)
        while r >= n:
            r = getrandbits(k)
        return r

    def between(self, a: int, b: int) -> int:
        """``randint(a, b)``."""
        n = b - a + 1
        getrandbits = self.getrandbits
        k = n.bit_length()
        r = getrandbits(k)
        while r >= n:
            r = getrandbits(k)
        return a + r

    def pick(self, seq: Sequence[_T]) -> _T:
        """``choice(seq)``."""
        n = len(seq)
        getrandbits = self.getrandbits
        k = n.bit_length()
        r = getrandbits(k)
        while r >= n:
            r = getrandbits(k)
        return seq[r]

    def weighted(self, population: Sequence[_T], cum_weights: Sequence[float]) -> _T:
        """``choices(population, cum_weights=cum_weights)[0]``."""
        return population[bisect(cum_weights, self.random() * cum_weights[-1], 0, len(population) - 1)]


class Generator:
    """Yields person rows (dicts of :class:`Person` columns) for ``tenant``, deterministic from ``seed``."""

    def __init__(self, seed: int, tenant: str, source: str) -> None:
        self.rng = Draws(seed)
        self.seed = seed
        self.tenant = tenant
        self.source = source
        self.serials = SerialAllocator(seed)
        self.names = name_pools()
        self.places = places()
        self.birth_codes = tuple(sorted(cccd.province_codes()))
        self.households = 0

    def people(self, count: int) -> Iterator[dict[str, Any]]:
        """``count`` people as dicts of their :class:`Person` columns."""
        for row in self.rows(count):
            yield dict(zip(COLUMNS, row, strict=True))

    def rows(self, count: int) -> Iterator[tuple[Any, ...]]:
        """``count`` people as tuples of their columns in :data:`~services.identity.loading.COLUMNS` order."""
        made = 0
        while made < count:
            household = self._household(count - made)
            made += len(household)
            yield from household

    # -- names and cards ----------------------------------------------------------------
    def _vietnamese_name(self, sex: cccd.Sex, family: str) -> str:
        """Family, middle and given name of ``sex``, no part repeated."""
        middles = self.names.middle_male if sex == "M" else self.names.middle_female
        givens = self.names.given_male if sex == "M" else self.names.given_female
        while True:
            middle = middles.pick(self.rng)
            given = self.rng.pick(givens)
            if len({family, middle, given}) == 3:
                return f"{family} {middle} {given}"

    def _card(self, birth: date) -> tuple[date, date | None]:
        """Issue and expiry dates of an adult's card, on the renewal rule (:func:`card_expiry`)."""
        rng = self.rng
        fourteenth = add_years(birth, 14)
        milestones = renewal_birthdays(birth)
        # The latest renewal birthday on or before the reference date (last_renewal_birthday),
        # and the one before it.
        earlier = renewal = None
        for milestone in milestones:
            if milestone > REFERENCE_DATE:
                break
            earlier, renewal = renewal, milestone
        if (
            renewal is not None
            and _REFERENCE_ORDINAL - renewal.toordinal() <= EXPIRED_WINDOW_DAYS
            and rng.random() < NOT_RENEWED_SHARE
        ):
            # Not renewed at that birthday: issued after the previous one, expired on it.
            start = max(fourteenth, earlier or fourteenth)
            issued = date.fromordinal(start.toordinal() + rng.between(0, (renewal - start).days - 1))
            return issued, renewal
        start = max(fourteenth, renewal or fourteenth, _FIVE_YEARS_BEFORE_REFERENCE)
        start_ordinal = start.toordinal()
        issued = date.fromordinal(start_ordinal + rng.between(0, _REFERENCE_ORDINAL - start_ordinal))
        for milestone in milestones:  # card_expiry(birth, issued)
            if milestone > issued:
                return issued, milestone
        return issued, None

    # -- one household ----------------------------------------------------------------
    def _household(self, room: int) -> list[tuple[Any, ...]]:
        rng = self.rng
        self.households += 1
        household_id = f"HK{self.seed % 10000:04d}{self.households:08d}"
        place = self.places[rng.below(len(self.places))]
        address = f"Số {rng.between(1, 300)}, đường {rng.pick(STREETS)}, {place.ward_name}, {place.province_name}"
        if rng.random() < 0.01:
            nationality = rng.pick(tuple(FOREIGN_LOCALES))
            age = rng.between(20, 65)
            sex: cccd.Sex = rng.pick(("M", "F"))
            return [self._person(household_id, "head", place, address, age, sex, nationality=nationality)]
        # Cumulative weights: the same draws as the weights 15/20/25/22/12/6 and 35/45/20.
        size = min(room, rng.weighted((1, 2, 3, 4, 5, 6), (15, 35, 60, 82, 94, 100)))
        ages = (rng.between(20, 35), rng.between(36, 60), rng.between(61, 90))
        head_age = rng.weighted(ages, (35, 80, 100))
        head_sex: cccd.Sex = rng.pick(("M", "F"))
        family = self.names.family.pick(rng)
        rows = [self._person(household_id, "head", place, address, head_age, head_sex, family=family)]
        if size >= 2 and rng.random() < 0.85:
            spouse_sex: cccd.Sex = "F" if head_sex == "M" else "M"
            spouse_age = max(18, head_age + rng.between(-5, 5))
            rows.append(self._person(household_id, "spouse", place, address, spouse_age, spouse_sex))
        while len(rows) < size:
            if head_age >= 38 or rng.random() < 0.6:
                child_age = max(0, min(head_age - 18, rng.between(0, max(0, head_age - 20))))
                child_sex: cccd.Sex = rng.pick(("M", "F"))
                rows.append(self._person(household_id, "child", place, address, child_age, child_sex, family=family))
            else:
                parent_sex: cccd.Sex = rng.pick(("M", "F"))
                parent_age = min(100, head_age + rng.between(20, 32))
                rows.append(self._person(household_id, "parent", place, address, parent_age, parent_sex))
        return rows

    # -- one person ---------------------------------------------------------------------
    def _person(
        self,
        household_id: str,
        role: str,
        place: Place,
        address: str,
        age: int,
        sex: cccd.Sex,
        *,
        family: str | None = None,
        nationality: str = "VNM",
    ) -> tuple[Any, ...]:
        rng = self.rng
        birth = _days_before_reference(age * 365 + rng.between(0, 364))
        foreign = nationality != "VNM"
        if foreign:
            male, female = self.names.foreign[nationality]
            full_name = rng.pick(male if sex == "M" else female)
            # Foreigners' numbers carry the code of the province they registered in.
            birth_code = f"{int(place.province_code):03d}"
        else:
            full_name = self._vietnamese_name(sex, family or self.names.family.pick(rng))
            birth_code = rng.pick(self.birth_codes)
        number = self.serials.number(birth_code, birth.year, sex)
        adult = birth <= _ADULT_BORN_BY  # add_years(birth, 14) <= REFERENCE_DATE
        death_date: date | None = None
        if rng.random() < 0.02:
            death_date = _days_before_reference(rng.between(1, min(5 * 365, max(1, age * 365))))
        issued: date | None = None
        expires: date | None = None
        if adult:
            issued, expires = self._card(birth)
        if foreign:
            level = 1
        elif not adult:
            level = 0
        else:
            level = rng.weighted((2, 1, 0), (70, 90, 100))  # weights 70/20/10
        phone = f"{rng.pick(PHONE_PREFIXES)}{rng.between(0, 9_999_999):07d}" if adult else ""
        email = ""
        if adult and rng.random() < 0.6:
            email = f"{_email_name(full_name)}{rng.between(1, 999)}@{rng.pick(EMAIL_DOMAINS)}"
        # In COLUMNS order.
        return (
            self.tenant,
            number,
            tech_id(number),
            full_name,
            birth,
            sex,
            nationality,
            address,
            place.ward_code,
            place.province_code,
            household_id,
            role,
            phone,
            email,
            level,
            "citizen",
            death_date,
            issued,
            expires,
            False,
            self.source,
        )


def generate(
    session: Session,
    tenant: str,
    people: int,
    seed: int,
    source: str,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Replace ``tenant``'s generated people (``source``) with ``people`` new ones from ``seed``.

    Numbers a tenant already uses for hand-made personas are skipped, so personas survive.
    """
    session.execute(delete(Person).where(Person.tenant == tenant, Person.source == source))
    taken = set(session.scalars(select(Person.cccd).where(Person.tenant == tenant)))
    made = Generator(seed, tenant, source).rows(people)
    rows = (r for r in made if r[1] not in taken) if taken else made  # r[1]: cccd
    count = loading.insert_rows(session, rows, progress=progress)
    info = session.get(PopulationInfo, tenant)
    if info is None:
        session.add(PopulationInfo(tenant=tenant, seed=seed, people=count))
    else:
        info.seed, info.people = seed, count
    session.flush()
    return count

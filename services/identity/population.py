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
from itertools import count
from typing import Any, NamedTuple, TypeVar

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
#: A phone number of each prefix: ``%`` its seven digits.
_PHONE_TEMPLATES = tuple(f"{prefix}%07d" for prefix in PHONE_PREFIXES)
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
#: Bit lengths of the ranges of the draws written out in Generator (see Draws).
_BIRTH_DAY_BITS = (365).bit_length()
_HOUSE_BITS = (300).bit_length()
_STREET_BITS = len(STREETS).bit_length()
_PHONE_PREFIX_BITS = len(PHONE_PREFIXES).bit_length()
_PHONE_NUMBER_BITS = (10_000_000).bit_length()
_EMAIL_NUMBER_BITS = (999).bit_length()
_EMAIL_DOMAIN_BITS = len(EMAIL_DOMAINS).bit_length()
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


class NameDraws(NamedTuple):
    """One sex's middle and given names, as :meth:`Generator._vietnamese_name` draws them."""

    middles: tuple[str, ...]
    middle_weights: tuple[float, ...]  # cumulative
    middle_total: float
    givens: tuple[str, ...]
    given_count: int
    given_bits: int  # given_count.bit_length()

    @classmethod
    def of(cls, middles: Weighted, givens: tuple[str, ...]) -> NameDraws:
        weights = middles.cum_weights
        return cls(middles.names, weights, weights[-1], givens, len(givens), len(givens).bit_length())


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


@cache  # names and their parts repeat: each folded once
def _email_name(name: str) -> str:
    """``"Nguyễn Văn Đức"`` → ``"nguyen.van.duc"``; so that of ``f"{a} {b} {c}"`` is
    ``f"{_email_name(a)}.{_email_name(b)}.{_email_name(c)}"``."""
    return ".".join(map(ascii_fold, name.split(" ")))


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


def renewal_birthdays(birth: date) -> tuple[date, ...]:
    """The 25th, 40th and 60th birthdays of someone born on ``birth`` (:func:`add_years`)."""
    year = birth.year
    if birth.month == 2 and birth.day == 29:
        return tuple(add_years(birth, age) for age in CARD_RENEWAL_AGES)
    # Three plain replacements, no call per age.
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


class IssueDays(NamedTuple):
    """A card issued on one of ``span`` days from the ordinal ``first`` (drawn like ``randint(0, span - 1)``;
    ``bits``: ``span.bit_length()``, see :class:`Draws`), expiring on ``expires`` (:func:`card_expiry`
    of any of those days)."""

    first: int
    span: int
    bits: int
    expires: date | None

    @classmethod
    def of(cls, first: date, last: date, expires: date | None) -> IssueDays:
        span = (last - first).days + 1
        return cls(first.toordinal(), span, span.bit_length(), expires)


class Birth(NamedTuple):
    """A birth date and the cards of someone born on it (:func:`birth_before_reference`)."""

    date: date
    year: int
    #: A card not renewed at the latest renewal birthday, when that passed in the last
    #: EXPIRED_WINDOW_DAYS (it expired on that birthday); else ``None``.
    lapsed: IssueDays | None
    #: A current card; ``None`` for someone under 14 on the reference date (no card).
    current: IssueDays | None


@cache  # at most 101 × 365 birth dates, each in a population many times
def birth_before_reference(days: int) -> Birth:
    """The birth date ``days`` before :data:`REFERENCE_DATE` and the renewal rule applied to it."""
    birth = _days_before_reference(days)
    if birth > _ADULT_BORN_BY:  # add_years(birth, 14) > REFERENCE_DATE
        return Birth(birth, birth.year, None, None)
    fourteenth = add_years(birth, 14)
    # The latest renewal birthday on or before the reference date (last_renewal_birthday), the
    # one before it, and the one after it (the expiry of any card issued since the latest one).
    earlier = renewal = expires = None
    for milestone in renewal_birthdays(birth):
        if milestone > REFERENCE_DATE:
            expires = milestone
            break
        earlier, renewal = renewal, milestone
    lapsed = None
    if renewal is not None and (REFERENCE_DATE - renewal).days <= EXPIRED_WINDOW_DAYS:
        # Issued after the previous renewal birthday, expired on the latest.
        lapsed = IssueDays.of(max(fourteenth, earlier or fourteenth), renewal - _ONE_DAY, renewal)
    # Issued after the latest renewal birthday, in the last five years.
    start = max(fourteenth, renewal or fourteenth, _FIVE_YEARS_BEFORE_REFERENCE)
    return Birth(birth, birth.year, lapsed, IssueDays.of(start, REFERENCE_DATE, expires))


class SerialAllocator:
    """Digits 7–12 without collisions in one run: a per-prefix counter through a bijection."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        #: (province, birth year, sex) → its numbers, in the order they are given
        self.slots: dict[tuple[str, int, cccd.Sex], Iterator[str]] = {}

    def number(self, province_code: str, birth_year: int, sex: cccd.Sex) -> str:
        key = (province_code, birth_year, sex)
        return next(self.slots.get(key) or self.start(key))

    def start(self, key: tuple[str, int, cccd.Sex]) -> Iterator[str]:
        """The numbers of a (province, birth year, sex) never asked for, kept in :attr:`slots`."""
        province_code, birth_year, sex = key
        # (province, year, sex) → prefix (digits 1–6) is one to one.
        prefix = f"{province_code}{cccd.century_sex_digit(birth_year, sex)}{birth_year % 100:02d}"
        offset = zlib.crc32(f"{prefix}:{self.seed}".encode()) % 1_000_000
        numbers = self.slots[key] = _serials(f"{prefix}%06d", offset)
        return numbers


def _serials(template: str, offset: int) -> Iterator[str]:
    """``template % serial``, the serial of the n-th number for n = 0, 1, 2, … being ``(n * 7919 + offset) % 10**6``
    (7919 is coprime with 10**6, so n → serial is a bijection on 0..999999)."""
    for serial in count(offset, 7919):
        yield template % (serial % 1_000_000)


class Draws(random.Random):
    """The generator's random draws: each the number ``random.Random``'s own method draws from
    the same state, without that method's argument checks and layers of calls (most of what a
    person costs). Integers come from CPython's rejection sampling on ``getrandbits``
    (``_randbelow_with_getrandbits``); arguments are trusted.

    The generator's hottest draws are written out where they are made, the bit length known
    beforehand: ``while (r := getrandbits(k)) >= n: pass`` with ``k = n.bit_length()`` is
    ``r = below(n)``, drawing the same bits."""

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
        self.place_bits = len(self.places).bit_length()
        self.birth_code_bits = len(self.birth_codes).bit_length()
        self.name_draws = {
            "M": NameDraws.of(self.names.middle_male, self.names.given_male),
            "F": NameDraws.of(self.names.middle_female, self.names.given_female),
        }
        self.households = 0
        self.household_template = f"HK{seed % 10000:04d}%08d"  # % the household's number

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

    # -- names --------------------------------------------------------------------------
    def _vietnamese_name(self, sex: cccd.Sex, family: str) -> tuple[str, str]:
        """Middle and given name of ``sex`` to go with ``family``, no part repeated."""
        middles, middle_weights, middle_total, givens, given_count, given_bits = self.name_draws[sex]
        random = self.rng.random
        getrandbits = self.rng.getrandbits
        while True:
            # Weighted.pick and Draws.pick, written out (the draws of every person).
            middle = middles[bisect(middle_weights, random() * middle_total, 0, len(middles) - 1)]
            while (r := getrandbits(given_bits)) >= given_count:
                pass
            given = givens[r]
            if middle != family and given != family and middle != given:
                return middle, given

    # -- one household ----------------------------------------------------------------
    def _household(self, room: int) -> list[tuple[Any, ...]]:
        rng = self.rng
        self.households += 1
        household_id = self.household_template % self.households
        # The draws of every household written out (see Draws): ward, house number, street.
        getrandbits = rng.getrandbits
        while (r := getrandbits(self.place_bits)) >= len(self.places):
            pass
        place = self.places[r]
        while (house := getrandbits(_HOUSE_BITS)) >= 300:  # between(1, 300) - 1
            pass
        while (street := getrandbits(_STREET_BITS)) >= len(STREETS):
            pass
        address = f"Số {house + 1}, đường {STREETS[street]}, {place.ward_name}, {place.province_name}"
        if rng.random() < 0.01:
            nationality = rng.pick(tuple(FOREIGN_LOCALES))
            age = rng.between(20, 65)
            sex: cccd.Sex = rng.pick(("M", "F"))
            return [self._person(household_id, "head", place, address, age, sex, "", nationality)]
        # Cumulative weights: the same draws as the weights 15/20/25/22/12/6 and 35/45/20.
        size = min(room, rng.weighted((1, 2, 3, 4, 5, 6), (15, 35, 60, 82, 94, 100)))
        ages = (rng.between(20, 35), rng.between(36, 60), rng.between(61, 90))
        head_age = rng.weighted(ages, (35, 80, 100))
        head_sex: cccd.Sex = rng.pick(("M", "F"))
        family = self.names.family.pick(rng)
        rows = [self._person(household_id, "head", place, address, head_age, head_sex, family)]
        if size >= 2 and rng.random() < 0.85:
            spouse_sex: cccd.Sex = "F" if head_sex == "M" else "M"
            spouse_age = max(18, head_age + rng.between(-5, 5))
            rows.append(self._person(household_id, "spouse", place, address, spouse_age, spouse_sex, ""))
        while len(rows) < size:
            if head_age >= 38 or rng.random() < 0.6:
                child_age = max(0, min(head_age - 18, rng.between(0, max(0, head_age - 20))))
                child_sex: cccd.Sex = rng.pick(("M", "F"))
                rows.append(self._person(household_id, "child", place, address, child_age, child_sex, family))
            else:
                parent_sex: cccd.Sex = rng.pick(("M", "F"))
                parent_age = min(100, head_age + rng.between(20, 32))
                rows.append(self._person(household_id, "parent", place, address, parent_age, parent_sex, ""))
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
        family: str,  # the household's family name, or "" to draw one
        nationality: str = "VNM",
    ) -> tuple[Any, ...]:
        rng = self.rng
        random = rng.random
        # The draws of every person are written out (see Draws).
        getrandbits = rng.getrandbits
        while (r := getrandbits(_BIRTH_DAY_BITS)) >= 365:  # between(0, 364)
            pass
        birth, birth_year, lapsed, card = birth_before_reference(age * 365 + r)
        foreign = nationality != "VNM"
        if foreign:
            male, female = self.names.foreign[nationality]
            full_name = rng.pick(male if sex == "M" else female)
            # Foreigners' numbers carry the code of the province they registered in.
            birth_code = f"{int(place.province_code):03d}"
        else:
            family = family or self.names.family.pick(rng)
            middle, given = self._vietnamese_name(sex, family)
            full_name = f"{family} {middle} {given}"
            while (r := getrandbits(self.birth_code_bits)) >= len(self.birth_codes):
                pass
            birth_code = self.birth_codes[r]
        key = (birth_code, birth_year, sex)  # SerialAllocator.number
        number = next(self.serials.slots.get(key) or self.serials.start(key))
        death_date: date | None = None
        if random() < 0.02:
            death_date = _days_before_reference(rng.between(1, min(5 * 365, max(1, age * 365))))
        issued: date | None = None
        expires: date | None = None
        level = 1 if foreign else 0
        phone = email = ""
        if card is not None:  # 14 or older: a card on the renewal rule (card_expiry)
            if lapsed is not None and random() < NOT_RENEWED_SHARE:
                card = lapsed  # not renewed at the latest renewal birthday
            while (r := getrandbits(card.bits)) >= card.span:
                pass
            issued, expires = date.fromordinal(card.first + r), card.expires
            if not foreign:  # the draw of rng.weighted((2, 1, 0), (70, 90, 100)): weights 70/20/10
                level_draw = random() * 100
                level = 2 if level_draw < 70 else 1 if level_draw < 90 else 0
            while (r := getrandbits(_PHONE_PREFIX_BITS)) >= len(PHONE_PREFIXES):
                pass
            while (n := getrandbits(_PHONE_NUMBER_BITS)) >= 10_000_000:  # between(0, 9_999_999)
                pass
            phone = _PHONE_TEMPLATES[r] % n
            if random() < 0.6:
                while (n := getrandbits(_EMAIL_NUMBER_BITS)) >= 999:  # between(1, 999) - 1
                    pass
                while (r := getrandbits(_EMAIL_DOMAIN_BITS)) >= len(EMAIL_DOMAINS):
                    pass
                name = (  # _email_name(full_name), from the parts of a Vietnamese one
                    _email_name(full_name)
                    if foreign
                    else f"{_email_name(family)}.{_email_name(middle)}.{_email_name(given)}"
                )
                email = f"{name}{n + 1}@{EMAIL_DOMAINS[r]}"
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

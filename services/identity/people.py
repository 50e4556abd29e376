"""People as a tenant sees them (its own personas over the base population), personas
management, and the population database's verification answers."""

from __future__ import annotations

import unicodedata
import zlib
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import delete as delete_rows
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.identity.loading import EDITABLE
from services.identity.models import BASE_TENANT, Person
from services.identity.population import SerialAllocator, tech_id
from vnsandbox.errors import Conflict, NotFound, ValidationFailed
from vnsandbox.vn import cccd


def invalid_number(number: str, found: list[cccd.Problem]) -> ValidationFailed:
    """The 422 naming every rule ``number`` breaks."""
    return ValidationFailed(
        "Invalid personal identification number: " + "; ".join(p.message_en for p in found),
        "Số định danh cá nhân không hợp lệ: " + "; ".join(p.message_vi for p in found),
        code="INVALID_CCCD",
        details=[p.as_detail() for p in found],
    )


def birth_in_future(en: str, vi: str, detail: dict[str, str]) -> ValidationFailed:
    """The 422 of a birth after the tenant's today (a date of birth, or a number's birth year)."""
    return ValidationFailed(en, vi, code="BIRTH_IN_FUTURE", details=[detail])


def check_number(
    number: str, birth_date: date | None = None, sex: cccd.Sex | None = None, today: date | None = None
) -> None:
    """422 ``INVALID_CCCD`` naming every rule ``number`` breaks, or ``BIRTH_IN_FUTURE`` when its
    only fault is a birth year after ``today``'s."""
    found = cccd.problems(number, birth_date, sex, today)
    if [p.rule for p in found] == [cccd.FUTURE_BIRTH_RULE]:
        (p,) = found
        raise birth_in_future(
            f"The number means a birth in the future: {p.message_en}",
            f"Số định danh chỉ năm sinh trong tương lai: {p.message_vi}",
            p.as_detail(),
        )
    if found:
        raise invalid_number(number, found)


def find(session: Session, tenant: str, number: str) -> Person | None:
    """The person with ``number`` as ``tenant`` sees them (``None``: not in the database)."""
    rows = session.scalars(select(Person).where(Person.cccd == number, Person.tenant.in_((tenant, BASE_TENANT)))).all()
    chosen = next((r for r in rows if r.tenant == tenant), rows[0] if rows else None)
    if chosen is None or chosen.deleted:
        return None
    return chosen


def get(session: Session, tenant: str, number: str) -> Person:
    person = find(session, tenant, number)
    if person is None:
        raise NotFound(
            f"No person with number {number} in the population database",
            f"Không có công dân số định danh {number} trong CSDL dân cư",
            code="PERSON_NOT_FOUND",
        )
    return person


def search(session: Session, tenant: str, query: str = "", level: int | None = None, limit: int = 50) -> list[Person]:
    """Personas (the tenant's first, then the base population) matching name or number."""

    def matching(t: str, n: int) -> list[Person]:
        stmt = select(Person).where(Person.tenant == t)
        q = query.strip()
        if q:
            stmt = stmt.where(or_(Person.cccd.startswith(q), Person.full_name.contains(q)))
        if level is not None:
            stmt = stmt.where(Person.level == level)
        return list(session.scalars(stmt.order_by(Person.id).limit(n)))

    own = matching(tenant, limit + 1000)
    hidden = {p.cccd for p in own}
    out = [p for p in own if not p.deleted][:limit]
    if len(out) < limit:
        base = matching(BASE_TENANT, limit - len(out) + len(hidden))
        out += [p for p in base if p.cccd not in hidden][: limit - len(out)]
    return out


def _values(person: Person) -> dict[str, Any]:
    return {c: getattr(person, c) for c in EDITABLE}


def _check_birth_date(values: dict[str, Any], today: date | None) -> None:
    born = values.get("birth_date")
    if born is not None and not cccd.FIRST_CENTURY <= born.year <= cccd.LAST_YEAR:
        raise ValidationFailed(
            f"Date of birth must be between {cccd.FIRST_CENTURY} and {cccd.LAST_YEAR}",
            f"Ngày sinh phải trong khoảng {cccd.FIRST_CENTURY}–{cccd.LAST_YEAR}",
            code="INVALID_BIRTH_DATE",
            details=[{"field": "NgayThangNamSinh", "rule": "range", "message": str(born)}],
        )
    if born is not None and today is not None and born > today:
        raise birth_in_future(
            f"The date of birth {born:%Y%m%d} is after today {today:%Y%m%d} (test clock)",
            f"Ngày sinh {born:%Y%m%d} sau ngày hiện tại {today:%Y%m%d} (đồng hồ thử nghiệm)",
            {"field": "NgayThangNamSinh", "rule": "not_in_future", "message": f"{born:%Y%m%d} > {today:%Y%m%d}"},
        )


def _check_consistent(number: str, values: dict[str, Any], today: date | None) -> None:
    _check_birth_date(values, today)
    if values.get("level") == 2 and values.get("nationality", "VNM") != "VNM":
        raise ValidationFailed(
            "Foreigners hold level 1 accounts only",
            "Người nước ngoài chỉ có tài khoản định danh mức độ 1",
            code="LEVEL_NOT_ALLOWED",
            details=[{"field": "MucDoXacThuc", "rule": "foreigner_level_1", "message": "level 2 needs citizenship"}],
        )
    check_number(number, values.get("birth_date"), values.get("sex"), today)


def create(
    session: Session, tenant: str, number: str | None, values: dict[str, Any], today: date | None = None
) -> Person:
    """Add a persona to the tenant; a number is made up (consistent) when none is given. Given
    ``today`` (the tenant's test-clock date), a birth after it is refused."""
    if number is None:
        _check_birth_date(values, today)
        alloc = SerialAllocator(seed=zlib.crc32(tenant.encode()))
        province = values.get("birth_province_code") or "001"
        if province not in cccd.province_codes():
            raise ValidationFailed(
                f"MaTinhKhaiSinh {province} is not a province code of birth registration",
                f"MaTinhKhaiSinh {province} không phải mã tỉnh nơi đăng ký khai sinh",
                code="INVALID_PROVINCE_CODE",
                details=[{"field": "MaTinhKhaiSinh", "rule": "province_code", "message": province}],
            )
        number = alloc.number(province, values["birth_date"].year, values["sex"])
        while find(session, tenant, number) is not None:
            number = alloc.number(province, values["birth_date"].year, values["sex"])
    values = {k: v for k, v in values.items() if k in EDITABLE}
    _check_consistent(number, values, today)
    existing = session.scalar(select(Person).where(Person.tenant == tenant, Person.cccd == number))
    if find(session, tenant, number) is not None:
        raise person_exists(number)
    person = Person(tenant=tenant, cccd=number, tech_id=tech_id(number), source="persona", deleted=False, **values)
    try:
        # A concurrent create of the same number (or of the same tombstone) loses here, in a
        # savepoint, and gets the same answer as a sequential duplicate.
        with session.begin_nested():
            if existing is not None:  # a tombstone: bring the number back as a new persona
                session.expunge(existing)
                # Only while it is still a tombstone: SQLite may give a racer's new row its id.
                tombstone = (Person.id == existing.id) & Person.deleted.is_(True)
                gone = session.execute(
                    delete_rows(Person).where(tombstone).execution_options(synchronize_session=False)
                )
                if gone.rowcount != 1:  # type: ignore[attr-defined]
                    raise person_exists(number)
            session.add(person)
            session.flush()
    except IntegrityError:
        raise person_exists(number) from None
    return person


def person_exists(number: str) -> Conflict:
    return Conflict(
        f"A person with number {number} already exists; edit it instead",
        f"Đã có công dân số định danh {number}; hãy sửa thông tin",
        code="PERSON_EXISTS",
    )


def _own_copy(session: Session, tenant: str, person: Person) -> Person:
    """The tenant's own row for ``person`` (copied from the base layer on first change)."""
    if person.tenant == tenant:
        return person
    copy = Person(
        tenant=tenant,
        cccd=person.cccd,
        tech_id=person.tech_id,
        source="persona",
        deleted=False,
        **_values(person),
    )
    session.add(copy)
    session.flush()
    return copy


def update(session: Session, tenant: str, number: str, changes: dict[str, Any], today: date | None = None) -> Person:
    person = get(session, tenant, number)
    merged = _values(person) | {k: v for k, v in changes.items() if k in EDITABLE}
    _check_consistent(number, merged, today if "birth_date" in changes else None)
    own = _own_copy(session, tenant, person)
    for key, value in merged.items():
        setattr(own, key, value)
    session.flush()
    return own


def delete(session: Session, tenant: str, number: str) -> None:
    """Remove a person for this tenant (a tombstone hides a base person)."""
    person = get(session, tenant, number)
    own = _own_copy(session, tenant, person)
    if session.scalar(select(Person.id).where(Person.tenant == BASE_TENANT, Person.cccd == number)) is None:
        session.delete(own)
    else:
        own.deleted = True
    session.flush()


# -- verification -------------------------------------------------------------------------

#: Error switches of the population API (scope: the calling client's id).
SWITCHES = {
    "POPULATION_UNAVAILABLE": "population API: 503 POPULATION_UNAVAILABLE (MaKetQua 98) with Retry-After",
    "POPULATION_TIMEOUT": "population API: waits params.delay_seconds (default 5), then 504 POPULATION_TIMEOUT "
    "(MaKetQua 99), as when the national database does not answer in time",
    "POPULATION_NOT_FOUND": "population API: every number is answered as not found (MaKetQua 01), as from a "
    "stale or incomplete copy of the database",
}
RESULT_UNAVAILABLE = "98"
RESULT_TIMEOUT = "99"

RESULT_OK = "00"
RESULT_NOT_FOUND = "01"
RESULT_DECEASED = "02"
RESULT_DOCUMENT_EXPIRED = "03"
RESULT_INVALID_NUMBER = "04"
RESULT_MISMATCH = "05"

RESULT_TEXT = {
    RESULT_OK: ("Thông tin hợp lệ", "Person found, alive, document valid, all submitted fields match"),
    RESULT_NOT_FOUND: ("Không tìm thấy công dân", "No person with this number"),
    RESULT_DECEASED: ("Công dân đã chết", "The person is deceased"),
    RESULT_DOCUMENT_EXPIRED: ("Giấy tờ tùy thân đã hết hạn", "The identity card has expired"),
    RESULT_INVALID_NUMBER: ("Số định danh không hợp lệ", "The identification number is not valid"),
    RESULT_MISMATCH: ("Thông tin không khớp", "Some submitted fields do not match the database"),
}


def normalise_text(value: str) -> str:
    """Case-, space- and Unicode-form-insensitive comparison key."""
    return " ".join(unicodedata.normalize("NFC", value).casefold().replace(",", " ").split())


@dataclass
class Verification:
    number: str
    result: str
    person: Person | None = None
    #: Field → True (match) / False (mismatch) for submitted fields.
    matches: dict[str, bool] = field(default_factory=dict)
    problems: list[cccd.Problem] = field(default_factory=list)
    document_valid: bool | None = None

    @property
    def alive(self) -> bool | None:
        return None if self.person is None else self.person.death_date is None


def document_valid(person: Person, today: date) -> bool:
    return person.document_expires is None or person.document_expires >= today


def verify(
    session: Session, tenant: str, number: str, submitted: dict[str, Any], today: date, *, hidden: bool = False
) -> Verification:
    """Compare ``submitted`` (``full_name``, ``birth_date``, ``sex``, ``address``) with the record.

    Result code priority: invalid number, not found, deceased, document expired, mismatch, OK.
    Field matches are given whenever the person exists. ``hidden`` answers "not found" (the
    POPULATION_NOT_FOUND switch).
    """
    found = cccd.problems(number, today=today)
    if found:
        return Verification(number, RESULT_INVALID_NUMBER, problems=found)
    person = None if hidden else find(session, tenant, number)
    if person is None:
        return Verification(number, RESULT_NOT_FOUND)
    matches: dict[str, bool] = {}
    for key, value in submitted.items():
        if value is None:
            continue
        if key in ("full_name", "address"):
            matches[key] = normalise_text(str(value)) == normalise_text(getattr(person, key))
        else:
            matches[key] = value == getattr(person, key)
    if person.death_date is not None:
        result = RESULT_DECEASED
    elif not document_valid(person, today):
        result = RESULT_DOCUMENT_EXPIRED
    elif not all(matches.values()):
        result = RESULT_MISMATCH
    else:
        result = RESULT_OK
    return Verification(number, result, person, matches, document_valid=document_valid(person, today))


def status_code(person: Person, today: date) -> str:
    """Result code of a plain look-up."""
    if person.death_date is not None:
        return RESULT_DECEASED
    if not document_valid(person, today):
        return RESULT_DOCUMENT_EXPIRED
    return RESULT_OK

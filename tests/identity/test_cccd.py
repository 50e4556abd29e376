"""The CCCD rules: what the generator makes, the validator accepts, and nothing else."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from services.identity.population import Generator
from vnsandbox.vn import cccd

codes = st.sampled_from(sorted(cccd.province_codes()))
sexes = st.sampled_from(["M", "F"])
years = st.integers(min_value=1900, max_value=2399)
serials = st.integers(min_value=0, max_value=999_999)
#: Property tests never fail on machine speed: no per-example deadline.
no_deadline = settings(deadline=None)


def test_the_province_list_has_the_63_pre_2025_provinces():
    codes_ = cccd.province_codes()
    assert len(codes_) == 63
    assert codes_["001"] == "Thành phố Hà Nội"
    assert codes_["079"] == "Thành phố Hồ Chí Minh"
    assert "003" not in codes_


@no_deadline
@given(codes, years, sexes, serials)
def test_a_made_number_decodes_back_to_province_year_and_sex(code, year, sex, serial):
    number = cccd.make(code, year, sex, serial)
    assert len(number) == 12 and number.isdigit()
    decoded = cccd.decode(number)
    assert (decoded.province_code, decoded.birth_year, decoded.sex) == (code, year, sex)


@no_deadline
@given(codes, years, sexes, serials)
def test_a_made_number_agrees_with_any_birth_date_in_its_year(code, year, sex, serial):
    number = cccd.make(code, year, sex, serial)
    assert cccd.problems(number, date(year, 6, 30), sex) == []


@no_deadline
@given(codes, st.integers(1900, 2099), sexes, serials)
def test_the_fourth_digit_is_even_for_men_and_odd_for_women(code, year, sex, serial):
    digit = int(cccd.make(code, year, sex, serial)[3])
    assert digit % 2 == (1 if sex == "F" else 0)
    assert digit // 2 == (year - 1900) // 100


@no_deadline
@given(codes, st.integers(1901, 2398), sexes, serials, st.integers(1, 150))
def test_a_birth_year_other_than_the_number_says_is_refused(code, year, sex, serial, shift):
    number = cccd.make(code, year, sex, serial)
    other = year + shift if year + shift <= 2399 else year - shift
    rules = {p.rule for p in cccd.problems(number, date(other, 1, 1))}
    assert rules & {"birth_year", "century"}


@no_deadline
@given(codes, years, sexes, serials)
def test_the_other_sex_is_refused(code, year, sex, serial):
    number = cccd.make(code, year, sex, serial)
    other: cccd.Sex = "F" if sex == "M" else "M"
    assert [p.rule for p in cccd.problems(number, sex=other)] == ["sex"]


@no_deadline
@given(st.text(alphabet="0123456789", min_size=0, max_size=20).filter(lambda s: len(s) != 12))
def test_anything_but_twelve_digits_is_a_format_error(text):
    assert [p.rule for p in cccd.problems(text)] == ["format"]


@no_deadline
@given(st.text(min_size=12, max_size=12).filter(lambda s: not (s.isascii() and s.isdigit())))
def test_twelve_characters_that_are_not_all_digits_are_a_format_error(text):
    assert [p.rule for p in cccd.problems(text)] == ["format"]


@no_deadline
@given(st.integers(0, 999).map(lambda n: f"{n:03d}").filter(lambda c: c not in cccd.province_codes()), serials)
def test_an_unknown_province_code_is_refused(code, serial):
    number = f"{code}090{serial:06d}"
    assert [p.rule for p in cccd.problems(number)] == ["province_code"]


def test_the_century_digit_is_checked_against_the_date_of_birth():
    number = cccd.make("001", 1990, "M", 1)  # digit 4 = 0: born 1900–1999
    assert [p.rule for p in cccd.problems(number, date(2090, 1, 1))] == ["century"]


@settings(deadline=None, max_examples=25)
@given(st.integers(0, 2**31))
def test_every_generated_person_has_a_number_consistent_with_birth_and_sex(seed):
    for row in Generator(seed, "t", "seed").people(40):
        assert cccd.problems(row["cccd"], row["birth_date"], row["sex"]) == []


@no_deadline
@given(codes, st.integers(1900, 2398), sexes, serials, st.integers(1, 30))
def test_a_number_born_after_todays_year_is_refused_and_one_born_before_is_not(code, year, sex, serial, shift):
    number = cccd.make(code, year, sex, serial)
    assert [p.rule for p in cccd.problems(number, today=date(year - 1, 12, 31))] == [cccd.FUTURE_BIRTH_RULE]
    assert cccd.problems(number, today=date(min(year + shift, 9999), 1, 1)) == []

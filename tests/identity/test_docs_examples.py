"""The examples of docs/identity.md are real: the example number logs in, its userinfo is the one
printed, and the verification example answers what the page shows."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.identity.conftest import query_of, register
from tests.support import ROOT

DOC = (ROOT / "docs" / "identity.md").read_text(encoding="utf-8")


def code_blocks(lang: str | None = None) -> list[str]:
    """The fenced blocks of the page (only those of ``lang`` when given)."""
    blocks: list[str] = []
    current: list[str] | None = None
    current_lang = ""
    for line in DOC.splitlines():
        if line.startswith("```") and current is None:
            current, current_lang = [], line[3:].strip()
        elif line.startswith("```") and current is not None:
            if lang is None or current_lang == lang:
                blocks.append("\n".join(current) + "\n")
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def example_login_hint() -> str:
    (number,) = set(re.findall(r'login_hint="(\d{12})"', DOC))
    return number


def example_userinfo() -> dict[str, Any]:
    (block,) = [b for b in code_blocks("json") if '"sub"' in b]
    data: dict[str, Any] = json.loads(block)
    return data


def example_verification() -> tuple[dict[str, Any], dict[str, Any]]:
    (block,) = [b for b in code_blocks() if b.startswith("POST /population/v1/verify\n")]
    request_part, reply_part = block.split("\n200 ", 1)
    request = json.loads(request_part[request_part.index("{") :])
    return request, json.loads(reply_part)


@pytest.fixture
def example_tokens(identity) -> dict[str, Any]:
    rp = register(identity)
    r = rp.authorize(login_hint=example_login_hint(), scope="openid profile")
    assert r.status_code == 302, r.text
    code = query_of(r.headers["location"]).get("code")
    assert code, r.headers["location"]
    tokens = rp.exchange(code).json()
    return {"rp": rp} | tokens


def test_the_example_login_hint_is_a_person_of_the_base_population(identity):
    r = identity.get(f"/_sandbox/personas/{example_login_hint()}")
    assert r.status_code == 200
    assert r.json()["source"] == "base"


def test_the_example_userinfo_is_what_the_example_login_returns(example_tokens):
    info = example_tokens["rp"].userinfo(example_tokens["access_token"]).json()
    assert info == example_userinfo()


def test_the_example_userinfo_names_the_example_login_hint():
    assert example_userinfo()["SoDinhDanh"] == example_login_hint()


def test_the_verification_example_answers_what_the_page_shows(identity, rp):
    request, reply = example_verification()
    token = rp.token(grant_type="client_credentials", scope="population:verify").json()["access_token"]
    r = identity.post("/population/v1/verify", json=request, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert r.json() == reply
    assert request["SoDinhDanh"] == example_login_hint()

"""What every service does on each request, kept cheap: the health probe and the journal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from services.dossier.app import create_app as create_dossier
from services.dossier.settings import DossierSettings
from vnsandbox import control
from vnsandbox.journal import _REDACTION_MARKS, _SECRET_PATTERNS, NO_SECRET_PATHS, _may_need_redaction


@pytest.fixture
def dossier_app(tmp_path: Path) -> TestClient:
    settings = DossierSettings(database_url=f"sqlite:///{tmp_path / 'dossier.db'}", data_dir=tmp_path)
    return TestClient(create_dossier(settings))


def test_health_probes_the_database_once_per_interval(dossier_app, monkeypatch):
    probes: list[object] = []

    def probe(db: object) -> bool:
        probes.append(db)
        return True

    monkeypatch.setattr(control, "_database_answers", probe)
    monkeypatch.setattr(control, "HEALTH_PROBE_SECONDS", 3600.0)
    for _ in range(3):
        assert dossier_app.get("/_sandbox/health").json()["database_ok"] is True
    assert len(probes) == 1


def test_health_is_degraded_while_the_database_does_not_answer(dossier_app, monkeypatch):
    monkeypatch.setattr(control, "_database_answers", lambda db: False)
    resp = dossier_app.get("/_sandbox/health")
    assert resp.status_code == 200
    assert resp.json() | {"pid": 0} == {
        "status": "degraded",
        "service": "dossier",
        "database": "sqlite",
        "database_ok": False,
        "pid": 0,
    }


def test_health_probes_again_after_the_interval(dossier_app, monkeypatch):
    answers = iter([True, False])
    monkeypatch.setattr(control, "_database_answers", lambda db: next(answers))
    monkeypatch.setattr(control, "HEALTH_PROBE_SECONDS", 0.0)
    assert dossier_app.get("/_sandbox/health").json()["status"] == "ok"
    assert dossier_app.get("/_sandbox/health").json()["status"] == "degraded"


def test_journal_redacts_a_body_larger_than_its_limit_and_cuts_it(tmp_path):
    settings = DossierSettings(
        database_url=f"sqlite:///{tmp_path / 'dossier.db'}", data_dir=tmp_path, journal_body_bytes=64
    )
    client = TestClient(create_dossier(settings))
    body = {"client_secret": "s3cr3t-value", "pad": "x" * 500}
    client.post("/_sandbox/switches/NOPE", content=json.dumps(body), headers={"content-type": "application/json"})
    entry = client.get("/_sandbox/journal", params={"method": "POST"}).json()["entries"][0]
    assert "s3cr3t-value" not in entry["request_body"]
    assert entry["request_body"].startswith('{"client_secret": "***"')
    assert "<cut," in entry["request_body"]


def test_a_generated_request_id_is_32_hex_digits(dossier_app):
    rid = dossier_app.get("/_sandbox/version").headers["x-request-id"]
    assert len(rid) == 32
    int(rid, 16)


CUT_BODIES = [
    {"client_secret": "s3cr3t", "pad": "x" * 300},
    [{"MaHoSo": f"H22-{i}", "TenTTHC": "Đăng ký khai sinh", "token": f"t{i}", "n": i} for i in range(40)],
    {"a": {}, "b": [], "c": [[], {}], "password": None, "api_key": "", "d": [1.5, -0.0, 1e300, True, False, None]},
    {"url": "https://x.example/cb?access_token=abc&x=1", "urls": ["http://y.example/?code=zz"] * 20},
    {"nested": {"deeper": {"Authorization": {"not": "a string"}, "list": ['\u0000\n"\\', "é" * 50]}}},
    {"k" * 100: "v" * 100, "secret": ["one", "two"], "tail": list(range(200))},
]


@pytest.mark.parametrize("value", CUT_BODIES)
@pytest.mark.parametrize("limit", [1, 10, 37, 64, 100, 1000, 100_000])
def test_a_cut_json_body_reads_as_the_start_of_the_whole_redacted_body(value, limit):
    """Over the limit only the kept start is redacted and encoded: it is the same text."""
    raw = json.dumps(value, indent=2).encode()  # wider than its re-encoding: both paths are taken
    whole = json.dumps(NO_SECRET_PATHS._json(value), ensure_ascii=False)
    expected = whole if len(whole) <= limit else whole[:limit] + f"...<cut, {len(raw)} bytes>"
    assert NO_SECRET_PATHS.body(raw, "application/json", limit) == expected


TRICKY_KEYS = ["client_secret", "CLIENT_SECRET", "ſecret", "apİ_key", "apı_key", "api\u212aey", "Password", "x-session"]


@pytest.mark.parametrize("key", TRICKY_KEYS)
@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_a_secret_name_is_redacted_however_it_is_spelled_on_the_wire(key, ensure_ascii):
    """Bodies without anything redaction could change skip its walk: a secret name in another
    case, in a letter that matches an ASCII one case-insensitively, or written as JSON escapes
    still takes it."""
    raw = json.dumps({"records": [{"n": 1, key: "s3cr3t-value"}]}, ensure_ascii=ensure_ascii).encode()
    for limit in (10_000, 30):
        text = NO_SECRET_PATHS.body(raw, "application/json", limit)
        assert text is not None and "s3cr3t-value" not in text


def test_each_secret_pattern_gives_the_pre_filter_a_literal_start_of_it():
    for pattern, mark in zip(_SECRET_PATTERNS, _REDACTION_MARKS, strict=False):
        assert mark and mark == mark.lower() and pattern.encode().startswith(mark)


def test_an_escaped_secret_name_is_redacted():
    raw = b'{"\\u0073ecret": "s3cr3t-value", "url": "\\u0068ttps://x.example/?code=zz"}'
    assert (
        NO_SECRET_PATHS.body(raw, "application/json", 10_000)
        == '{"secret": "***", "url": "https://x.example/?code=***"}'
    )


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=12),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
        max_leaves=20,
    )
)
@settings(max_examples=300, deadline=None)
def test_a_body_that_skips_the_redaction_walk_is_one_the_walk_leaves_unchanged(value):
    raw = json.dumps(value, ensure_ascii=False).encode()
    if not _may_need_redaction(raw):
        assert NO_SECRET_PATHS._json(value) == value
    whole = json.dumps(NO_SECRET_PATHS._json(value), ensure_ascii=False)
    assert NO_SECRET_PATHS.body(raw, "application/json", 1_000_000) == whole

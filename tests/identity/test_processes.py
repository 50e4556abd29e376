"""The identity service as a real uvicorn process on PostgreSQL (read committed)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.identity.test_concurrency import RACERS, persona_body
from tests.support import PostgresDatabases, ServiceProcess

pytestmark = [pytest.mark.multiprocess, pytest.mark.xdist_group("multiprocess")]


@pytest.fixture(scope="module")
def identity_on_postgres(
    postgres: PostgresDatabases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    tmp: Path = tmp_path_factory.mktemp("identity-pg")
    env = {
        "IDENTITY_DATABASE_URL": postgres.create("identity"),
        "IDENTITY_SEED_PEOPLE": "0",
        "SANDBOX_DATA_DIR": str(tmp),
    }
    proc = ServiceProcess("identity", tmp / "identity.log", env).start()
    yield proc
    proc.stop()


@pytest.mark.parametrize("round_", range(4))
def test_parallel_creations_of_one_persona_answer_201_once_and_409_otherwise(identity_on_postgres, round_):
    headers = {"x-sandbox-tenant": "t-race-" + uuid.uuid4().hex[:10]}
    body = persona_body(800_000 + round_)
    url = identity_on_postgres.url + "/_sandbox/personas"
    with httpx.Client(limits=httpx.Limits(max_connections=RACERS)) as client, ThreadPoolExecutor(RACERS) as pool:
        replies = list(pool.map(lambda _: client.post(url, json=body, headers=headers), range(RACERS)))
    statuses = sorted(r.status_code for r in replies)
    assert statuses == [201] + [409] * (RACERS - 1), [r.text for r in replies if r.status_code not in (201, 409)]
    assert {r.json()["error_code"] for r in replies if r.status_code == 409} == {"PERSON_EXISTS"}
    assert "Traceback" not in identity_on_postgres.output()

"""The control API while another program holds the database's write lock: /health at once,
reads as usual, policy writes a quick 503 with Retry-After instead of a 500 after 5 s."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient

from proxy.api import RETRY_AFTER_S, create_app
from proxy.apitypes import ApiConfig
from proxy.openapi import API_PREFIX, openapi_spec
from proxy.store import AuditEntry, Store
from tests.proxy.schema_check import problems

pytestmark = pytest.mark.asyncio

TOKEN = secrets.token_urlsafe(32)
PORT = 8351
HEADERS = {"Host": f"127.0.0.1:{PORT}", "Authorization": f"Bearer {TOKEN}"}
# What the issue asks of every answer while the lock is held.
QUICK_S = 1.5
POLICY = {"filters": ["metadata"]}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "veil.db")
    yield opened
    opened.close()


@pytest_asyncio.fixture
async def client(aiohttp_client: Any, store: Store) -> AsyncIterator[TestClient]:
    config = ApiConfig(token=TOKEN, port=PORT, allowed_origins=())
    app = create_app(store, config, [{"name": "metadata", "description": "Strip metadata"}])
    yield await aiohttp_client(app, headers=HEADERS)


@pytest.fixture
def locked(store: Store) -> Iterator[sqlite3.Connection]:
    """Another program holding the write lock for the whole test."""
    other = sqlite3.connect(store.path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    yield other
    other.execute("ROLLBACK")
    other.close()


async def timed(call: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    response = await call
    return response, time.perf_counter() - started


async def test_health_answers_at_once_while_a_policy_write_waits(client, locked) -> None:
    put = asyncio.ensure_future(
        timed(client.put(f"{API_PREFIX}/policies/new.example.com", json=POLICY))
    )
    await asyncio.sleep(0.05)  # the write is waiting for the lock now
    health, waited = await timed(client.get(f"{API_PREFIX}/health"))
    assert health.status == 200 and waited < 0.3, f"/health took {waited:.2f} s"
    response, elapsed = await put
    assert response.status == 503 and elapsed < QUICK_S, f"PUT: {response.status}, {elapsed:.2f} s"
    assert response.headers["Retry-After"] == str(RETRY_AFTER_S)
    body = await response.json()
    assert set(body) == {"error"} and "locked" in body["error"]
    spec = openapi_spec("0.1.0", PORT, 200)
    documented = spec["paths"]["/policies/{site}"]["put"]["responses"]["503"]
    assert problems(body, documented["content"]["application/json"]["schema"], spec) == []


async def test_deleting_a_policy_while_locked_is_a_quick_503(client, locked, store) -> None:
    site = store.list_policies()[0].site
    response, elapsed = await timed(client.delete(f"{API_PREFIX}/policies/{site}"))
    assert response.status == 503 and elapsed < QUICK_S and "Retry-After" in response.headers
    assert (
        "503"
        in openapi_spec("0.1.0", PORT, 200)["paths"]["/policies/{site}"]["delete"]["responses"]
    )
    assert store.get_policy(site) is not None


async def test_reads_and_audit_writes_go_on_while_locked(client, locked, store) -> None:
    started = time.perf_counter()
    for number in range(10):  # what the proxy's hooks do on the same loop
        store.add_audit(AuditEntry("a.example", "POST", f"/{number}", None, [], None, "blocked"))
    for path in ("/health", "/policies", "/audit", "/stats"):
        response = await client.get(API_PREFIX + path)
        assert response.status == 200, path
    assert time.perf_counter() - started < QUICK_S
    assert store.audit_pending == 10


async def test_the_write_goes_through_once_the_lock_is_released(client, locked, store) -> None:
    response = await client.put(f"{API_PREFIX}/policies/new.example.com", json=POLICY)
    assert response.status == 503
    locked.execute("ROLLBACK")
    locked.execute("BEGIN")  # the fixture's ROLLBACK needs a transaction to end
    response = await client.put(f"{API_PREFIX}/policies/new.example.com", json=POLICY)
    assert response.status == 201 and store.get_policy("new.example.com") is not None

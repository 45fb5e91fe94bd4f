"""The control API against a real Store: behaviour, refusals, and its OpenAPI description."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient

from activities.formats import gzipped
from proxy import api as api_module
from proxy.api import MAX_PAGE, create_app
from proxy.apiguard import MAX_BODY_BYTES
from proxy.apitypes import PAIRING_KEY, ApiConfig
from proxy.openapi import API_PREFIX, openapi_spec
from proxy.originals import OriginalsVault
from proxy.pairing import MAX_ATTEMPTS, Pairing, format_code
from proxy.policies import Policy
from proxy.store import AuditEntry, Store
from tests.activities.samples import loop, to_fit, to_gpx, to_tcx
from tests.conftest import a_record
from tests.proxy.schema_check import problems
from tests.proxy.test_activityparts import sensor_csv

pytestmark = pytest.mark.asyncio

TOKEN = secrets.token_urlsafe(32)
PORT = 8351
HOST = f"127.0.0.1:{PORT}"
ORIGIN = "chrome-extension://abcdefghijklmnopabcdefghijklmnop"
FIREFOX = "moz-extension://0f3c6e0a-9d1b-4c59-9b0e-2f1f6c3b8a11"
FILTERS = [
    {"name": "metadata", "description": "Strip metadata"},
    {"name": "pfgsm", "description": "Scene privacy"},
]
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HOME_ZONE = {"name": "home", "latitude": 51.50135, "longitude": -0.14189, "radius_m": 500.0}
Client = TestClient
MakeClient = Callable[..., Awaitable[TestClient]]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "veil.db")


@pytest.fixture
def changes() -> list[str]:
    return []


@pytest.fixture
def make_client(aiohttp_client: Any, store: Store, changes: list[str]) -> MakeClient:
    """A client of a fresh app; its default headers are the ones given (Host among them)."""

    async def make(pairing: Pairing | None = None, **headers: str) -> TestClient:
        config = ApiConfig(token=TOKEN, port=PORT, allowed_origins=(ORIGIN,))
        app = create_app(
            store, config, FILTERS, on_policies_changed=lambda: changes.append("x"), pairing=pairing
        )
        return await aiohttp_client(app, headers=headers)

    return make


@pytest_asyncio.fixture
async def client(make_client: MakeClient) -> AsyncIterator[TestClient]:
    yield await make_client(Host=HOST, **AUTH)


def url(path: str) -> str:
    return API_PREFIX + path


def snapshot(store: Store) -> tuple[object, ...]:
    return store.list_policies(), store.list_audit(limit=1000), store.stats()


@pytest.fixture
def audit_ids(store: Store, private_jpeg: bytes) -> list[int]:
    sites = ["a.example.com", "b.example.com", "a.example.com"]
    return [
        store.add_audit(
            AuditEntry(
                site=site, method="POST", path="/up?t=1", policy_site="*.example.com",
                filters=["metadata"], strength="medium", outcome="protected",
                record=a_record(elapsed_ms=5.0, psnr=float("inf"),
                                thumb_before=private_jpeg if index == 0 else b""),
            )
        )
        for index, site in enumerate(sites)
    ]  # fmt: skip


async def expect_error(response: Any, status: int, text: str = "") -> None:
    assert response.status == status
    assert response.content_type == "application/json"
    body = await response.json()
    assert set(body) == {"error"} and text.lower() in body["error"].lower()
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_all_matches_public_names() -> None:
    assert all(hasattr(api_module, name) for name in api_module.__all__)


async def test_config_refuses_weak_tokens() -> None:
    with pytest.raises(ValueError, match="token"):
        ApiConfig(token="", port=PORT, allowed_origins=())
    with pytest.raises(ValueError, match="port"):
        ApiConfig(token=TOKEN, port=0, allowed_origins=())


# Refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "", f"Basic {TOKEN}", "Bearer", "Bearer ", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}",
     f"Token {TOKEN}", "Bearer ünïcode"],
)  # fmt: skip
async def test_token_required(make_client: MakeClient, authorization: str | None) -> None:
    headers = {"Host": HOST} | (
        {"Authorization": authorization} if authorization is not None else {}
    )
    client = await make_client(**headers)
    response = await client.get(url("/policies"))
    await expect_error(response, 401, "token")
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "host", ["evil.example:8351", "127.0.0.1:9999", "127.0.0.1", "localhost.evil.example:8351",
             "127.0.0.2:8351", "", "0.0.0.0:8351"],
)  # fmt: skip
async def test_host_must_be_loopback_with_api_port(make_client: MakeClient, host: str) -> None:
    client = await make_client(Host=host, **AUTH)
    await expect_error(await client.get(url("/health")), 403, "host")


@pytest.mark.parametrize("host", ["localhost:8351", "LOCALHOST:8351", "[::1]:8351"])
async def test_other_loopback_names_allowed(make_client: MakeClient, host: str) -> None:
    client = await make_client(Host=host, **AUTH)
    assert (await client.get(url("/health"))).status == 200


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "", ORIGIN + ".evil"])
async def test_foreign_origin_refused(client: TestClient, store: Store, origin: str) -> None:
    before = snapshot(store)
    response = await client.delete(url("/policies/*.imgur.com"), headers={"Origin": origin})
    await expect_error(response, 403, "origin")
    assert "Access-Control-Allow-Origin" not in response.headers
    assert snapshot(store) == before


async def test_allowed_origin_gets_cors_headers(client: TestClient) -> None:
    response = await client.get(url("/health"), headers={"Origin": ORIGIN})
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers["Vary"] == "Origin"
    # A kept original's file name (GET /audit/{id}/original) reaches the extension.
    assert response.headers["Access-Control-Expose-Headers"] == "Content-Disposition"


async def test_preflight(make_client: MakeClient) -> None:
    anon = await make_client(Host=HOST)  # preflights carry no token
    preflight = {"Origin": ORIGIN, "Access-Control-Request-Method": "PUT"}
    response = await anon.options(url("/policies/example.com"), headers=preflight)
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert set(response.headers["Access-Control-Allow-Methods"].split(", ")) == {
        "GET", "PUT", "DELETE"
    }  # fmt: skip
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    foreign = preflight | {"Origin": "https://evil.example"}
    await expect_error(await anon.options(url("/policies/x.com"), headers=foreign), 403)
    no_origin = {"Access-Control-Request-Method": "PUT"}
    await expect_error(await anon.options(url("/policies/x.com"), headers=no_origin), 403)
    await expect_error(await anon.options(url("/nowhere"), headers=preflight), 404)
    rebound = await make_client(Host="evil.example:8351")
    await expect_error(await rebound.options(url("/health"), headers=preflight), 403, "host")


async def test_gets_change_nothing(
    client: TestClient, store: Store, changes: list[str], audit_ids: list[int]
) -> None:
    before = snapshot(store)
    tricks = "?_method=DELETE&method=PUT&enabled=false&site=*.imgur.com"
    for path in ["/health", "/policies", "/policies/*.imgur.com", "/filters", "/audit",
                 f"/audit/{audit_ids[0]}", f"/audit/{audit_ids[0]}/thumbnails/before", "/stats",
                 "/openapi.json"]:  # fmt: skip
        assert (await client.get(url(path + tricks))).status == 200, path
    for method in ("POST", "PATCH", "HEAD"):
        response = await client.request(method, url("/policies/*.imgur.com"))
        assert response.status == 405
        assert response.headers["Allow"]
    assert snapshot(store) == before and changes == []


async def test_simple_cross_site_posts_refused(client: TestClient, store: Store) -> None:
    """What a web page can send without a preflight: form and text/plain bodies."""
    before = snapshot(store)
    for content_type in ("application/x-www-form-urlencoded", "text/plain", "multipart/form-data"):
        body = b'{"enabled": false}'
        headers = {"Content-Type": content_type}
        for method in ("PUT", "POST", "DELETE"):
            response = await client.request(
                method, url("/policies/*.imgur.com"), data=body, headers=headers
            )
            assert response.status in (405, 415), (method, content_type)
            assert (await response.json())["error"]
    assert snapshot(store) == before


async def test_bodies_are_capped(client: TestClient, store: Store) -> None:
    before = snapshot(store)
    huge = b'{"filters": ["metadata"], "x": "' + b"a" * MAX_BODY_BYTES + b'"}'
    json_type = {"Content-Type": "application/json"}
    response = await client.put(url("/policies/example.com"), data=huge, headers=json_type)
    await expect_error(response, 413)

    async def chunks() -> AsyncIterator[bytes]:  # chunked: no Content-Length to check up front
        for _ in range(8):
            yield b" " * (MAX_BODY_BYTES // 4)

    response = await client.put(url("/policies/example.com"), data=chunks(), headers=json_type)
    await expect_error(response, 413)
    assert snapshot(store) == before


@pytest.mark.parametrize(
    ("site", "body", "message"),
    [
        ("example.com", b"{", "not valid JSON"),
        ("example.com", b"", "JSON body is required"),
        ("example.com", b"\xff\xfe\x00garbage", "not valid JSON"),
        ("example.com", b"[" * 20000 + b"]" * 20000, "not valid JSON"),
        ("example.com", b"[]", "JSON object"),
        ("example.com", b"null", "JSON object"),
        ("example.com", b'{"enabled": "yes"}', "enabled must be a bool"),
        ("example.com", b'{"filters": "metadata"}', "list of filter names"),
        ("example.com", b'{"filters": ["metadata", "colorfool"]}', "unknown filter"),
        ("example.com", b'{"strength": 3}', "strength must be a str"),
        ("example.com", b'{"faces": "mine"}', "faces must be one of all, bystanders, none"),
        ("example.com", b'{"faces": false}', "faces must be a str"),
        ("example.com", b'{"site": "other.com"}', "differs"),
        ("example.com", b'{"admin": true}', "unknown policy field"),
        ("*", b"{}", "wildcard"),
        ("a.*.example.com", b"{}", "wildcard"),
        ("*.com", b"{}", "too broad"),
        ("*.co.uk", b"{}", "public suffix"),
        ("*.github.io", b"{}", "public suffix"),
        ("example.com:443", b"{}", "port"),
        ("%00", b"{}", "not a host name"),
    ],
)
async def test_bad_policy_input(
    client: TestClient, store: Store, changes: list[str], site: str, body: bytes, message: str
) -> None:
    before = snapshot(store)
    json_type = {"Content-Type": "application/json"}
    response = await client.put(url(f"/policies/{site}"), data=body, headers=json_type)
    await expect_error(response, 400, message)
    assert snapshot(store) == before and changes == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (f"limit={MAX_PAGE + 1}", "limit"),
        ("limit=99999999999999999999999", "limit"),
        ("limit=0", "limit"),
        ("limit=-5", "limit"),
        ("limit=ten", "limit"),
        ("limit=1e3", "limit"),
        ("offset=-1", "offset"),
        ("offset=1.5", "offset"),
        ("site=*", "wildcard"),
        ("site=https://a.example.com/", "scheme"),
    ],
)
async def test_bad_audit_queries(client: TestClient, query: str, message: str) -> None:
    await expect_error(await client.get(url(f"/audit?{query}")), 400, message)


@pytest.mark.parametrize("entry_id", ["abc", "0", "-1", "1.0", "99999999999999999999", "１"])
async def test_bad_audit_ids(client: TestClient, entry_id: str) -> None:
    await expect_error(await client.get(url(f"/audit/{entry_id}")), 400, "id")
    await expect_error(await client.get(url(f"/audit/{entry_id}/thumbnails/before")), 400, "id")


# Behaviour --------------------------------------------------------------------------------


async def test_policy_lifecycle(client: TestClient, store: Store, changes: list[str]) -> None:
    listed = await (await client.get(url("/policies"))).json()
    assert listed["items"] == [policy.to_dict() for policy in store.list_policies()]
    await expect_error(await client.get(url("/policies/photos.example.com")), 404)

    body = {"filters": ["metadata"], "strength": "high"}
    response = await client.put(url("/policies/Photos.Example.com"), json=body)
    assert response.status == 201 and changes == ["x"]
    created = await response.json()
    assert created["site"] == "photos.example.com" and created["filters"] == ["metadata"]
    assert store.get_policy("photos.example.com") == Policy(
        "photos.example.com", filters=("metadata",), strength="high"
    )
    replace = {"site": "photos.example.com", "enabled": False}
    response = await client.put(url("/policies/photos.example.com"), json=replace)
    assert response.status == 200 and changes == ["x", "x"]
    assert (await response.json())["enabled"] is False
    got = await (await client.get(url("/policies/photos.example.com"))).json()
    assert got == store.get_policy("photos.example.com").to_dict()

    response = await client.delete(url("/policies/photos.example.com"))
    assert response.status == 204 and changes == ["x", "x", "x"]
    assert store.get_policy("photos.example.com") is None
    await expect_error(await client.delete(url("/policies/photos.example.com")), 404)
    assert changes == ["x", "x", "x"]


async def test_whose_faces_round_trips(client: TestClient, store: Store, spec: dict) -> None:
    site = url("/policies/photos.example.com")
    response = await client.put(site, json={"filters": ["metadata"], "faces": "bystanders"})
    assert response.status == 201 and (await response.json())["faces"] == "bystanders"
    assert store.get_policy("photos.example.com").faces == "bystanders"
    assert (await (await client.get(site)).json())["faces"] == "bystanders"
    listed = (await (await client.get(url("/policies"))).json())["items"]
    assert [p["faces"] for p in listed if p["site"] == "photos.example.com"] == ["bystanders"]
    response = await client.put(site, json={"faces": "none", "strength": "strong"})
    assert response.status == 200 and (await response.json())["faces"] == "none"
    assert store.get_policy("photos.example.com").faces == "none"
    # A PUT replaces the policy: whose faces left out is the default again.
    assert (await (await client.put(site, json={})).json())["faces"] == "all"
    described = spec["components"]["schemas"]["Policy"]["properties"]["faces"]
    assert described["enum"] == ["all", "bystanders", "none"] and described["default"] == "all"
    assert "faces" in spec["components"]["schemas"]["Policy"]["required"]


async def test_filters_health_and_stats(client: TestClient, store: Store, audit_ids: list[int]):
    assert (await (await client.get(url("/filters"))).json())["items"] == FILTERS
    strengths = (await (await client.get(url("/strengths"))).json())["items"]
    assert [s["name"] for s in strengths] == ["invisible", "subtle", "strong"]
    assert [s["name"] for s in strengths if s["default"]] == ["invisible"]
    assert strengths[0]["replaces"] == ["low", "medium"] and strengths[2]["replaces"] == ["high"]
    health = await (await client.get(url("/health"))).json()
    assert health == {"status": "ok", "version": "0.1.0", "keep_originals": False}
    assert await (await client.get(url("/stats"))).json() == store.stats()


async def test_audit_pages_entries_and_thumbnails(
    client: TestClient, store: Store, audit_ids: list[int], private_jpeg: bytes
) -> None:
    page = await (await client.get(url("/audit?limit=2&offset=1"))).json()
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 1)
    assert [item["id"] for item in page["items"]] == [audit_ids[1], audit_ids[0]]
    only_a = await (await client.get(url("/audit?site=A.example.com"))).json()
    assert [item["id"] for item in only_a["items"]] == [audit_ids[2], audit_ids[0]]
    entry = await (await client.get(url(f"/audit/{audit_ids[0]}"))).json()
    assert entry == store.get_audit(audit_ids[0]).to_dict()
    assert entry["path"] == "/up" and entry["psnr"] is None and entry["has_thumbnails"] is True
    await expect_error(await client.get(url(f"/audit/{audit_ids[-1] + 1}")), 404)
    response = await client.get(url(f"/audit/{audit_ids[0]}/thumbnails/before"))
    assert response.status == 200 and response.content_type == "image/jpeg"
    assert await response.read() == private_jpeg
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    await expect_error(await client.get(url(f"/audit/{audit_ids[0]}/thumbnails/after")), 404)
    await expect_error(await client.get(url(f"/audit/{audit_ids[0]}/thumbnails/x")), 400)


# OpenAPI (the checker and its own tests: schema_check.py, test_schema_check.py) ------


@pytest_asyncio.fixture
async def spec(client: TestClient) -> dict:
    response = await client.get(url("/openapi.json"))
    assert response.status == 200
    return await response.json()


async def test_spec_describes_exactly_the_routes(client: TestClient, spec: dict) -> None:
    served = {
        (route.method, route.resource.canonical.removeprefix(API_PREFIX))
        for route in client.app.router.routes()
    }
    described = {(m.upper(), path) for path, ops in spec["paths"].items() for m in ops}
    assert served == described
    assert spec["openapi"].startswith("3.1") and spec["servers"][0]["url"].endswith(
        HOST + "/api/v1"
    )
    assert spec == openapi_spec("0.1.0", PORT, MAX_PAGE)  # what test_schema_check checks


async def test_real_responses_match_spec(
    client: TestClient, make_client: MakeClient, spec: dict, audit_ids: list[int]
) -> None:
    entry = audit_ids[0]
    calls = [
        ("GET", "/health", "/health", None),
        ("GET", "/policies", "/policies", None),
        ("GET", "/policies/{site}", "/policies/*.imgur.com", None),
        ("GET", "/policies/{site}", "/policies/nope.example.com", None),
        ("GET", "/policies/{site}", "/policies/*", None),
        ("PUT", "/policies/{site}", "/policies/new.example.com", {"filters": ["metadata"]}),
        ("PUT", "/policies/{site}", "/policies/new.example.com", {"enabled": False}),
        ("PUT", "/policies/{site}", "/policies/new.example.com", {"faces": "bystanders"}),
        ("PUT", "/policies/{site}", "/policies/new.example.com", {"faces": "mine"}),
        ("PUT", "/policies/{site}", "/policies/new.example.com", {"filters": ["nope"]}),
        ("DELETE", "/policies/{site}", "/policies/new.example.com", None),
        ("DELETE", "/policies/{site}", "/policies/new.example.com", None),
        ("GET", "/filters", "/filters", None),
        ("GET", "/zones", "/zones", None),
        ("PUT", "/zones", "/zones", {"zones": [HOME_ZONE], "start_time": "hour"}),
        ("PUT", "/zones", "/zones", {"zones": [{**HOME_ZONE, "radius_m": 10}]}),
        ("GET", "/strengths", "/strengths", None),
        ("GET", "/audit", "/audit?limit=2", None),
        ("GET", "/audit", "/audit?limit=0", None),
        ("GET", "/audit/{id}", f"/audit/{entry}", None),
        ("GET", "/audit/{id}", f"/audit/{audit_ids[-1] + 1}", None),
        ("GET", "/audit/{id}", "/audit/x", None),
        ("GET", "/audit/{id}/thumbnails/{which}", f"/audit/{entry}/thumbnails/before", None),
        ("GET", "/audit/{id}/thumbnails/{which}", f"/audit/{entry}/thumbnails/after", None),
        ("GET", "/audit/{id}/thumbnails/{which}", f"/audit/{entry}/thumbnails/x", None),
        ("GET", "/audit/{id}/original", f"/audit/{entry}/original", None),
        ("GET", "/stats", "/stats", None),
        ("GET", "/openapi.json", "/openapi.json", None),
    ]
    code = client.app[PAIRING_KEY].code
    calls += [
        ("POST", "/pair", "/pair", {"code": code}),
        ("POST", "/pair", "/pair", {"code": code}),  # used up
        ("POST", "/pair", "/pair", {"code": 5}),
    ]
    anon = await make_client(Host=HOST)
    rebound = await make_client(Host="evil.example:8351", **AUTH)
    seen_statuses = set()
    for method, template, path, body in calls:
        for caller in (client, anon, rebound) if template == "/stats" else (client,):
            response = await caller.request(method, url(path), json=body)
            seen_statuses.add(response.status)
            documented = spec["paths"][template][method.lower()]["responses"]
            assert str(response.status) in documented, (method, path, response.status)
            content = documented[str(response.status)].get("content", {})
            if response.status == 204:
                assert content == {} and await response.read() == b""
            elif response.content_type == "application/json":
                schema = content["application/json"]["schema"]
                assert problems(await response.json(), schema, spec) == [], (method, path)
            else:
                assert response.content_type in content, (method, path)
    assert seen_statuses == {200, 201, 204, 400, 401, 403, 404}
    covered = {(method.lower(), template) for method, template, _, _ in calls}
    assert covered == {(m, path) for path, ops in spec["paths"].items() for m in ops}


async def test_kept_originals_come_back_as_the_files_they_were(
    aiohttp_client: Any, store: Store, tmp_path: Path, private_jpeg: bytes, spec: dict
) -> None:
    vault = OriginalsVault(tmp_path / "originals", tmp_path / "originals.key", retention_days=30)
    config = ApiConfig(token=TOKEN, port=PORT, allowed_origins=(ORIGIN,), keep_originals=True)
    client = await aiohttp_client(
        create_app(store, config, FILTERS, originals=vault), headers={"Host": HOST, **AUTH}
    )
    run = loop(heading_deg=90.0, leg_m=1000.0, step_m=50.0)
    sensor_json = b'{"accelerometer": {"x": [0.1, 0.2], "y": [0.0, 0.1], "z": [0.98, 0.97]}}'
    cases = [  # the bytes, the audit row's format, what comes back
        (private_jpeg, "JPEG", "image/jpeg", "jpeg"),
        (to_gpx(run), "GPX", "application/gpx+xml", "gpx"),
        (to_tcx(run), "TCX", "application/vnd.garmin.tcx+xml", "tcx"),
        (to_fit(run), "FIT", "application/vnd.ant.fit", "fit"),
        (gzipped(to_gpx(run)), "GPX", "application/gzip", "gpx.gz"),  # as Strava takes it
        (sensor_csv(), "CSV", "text/csv", "csv"),
        (sensor_json, "JSON", "application/json", "json"),
        (gzipped(sensor_csv()), "CSV", "application/gzip", "csv.gz"),
        # A row's format is taken for sensor uploads only: other bytes say what they are.
        (b"neither a photo nor a track", "GPX", "application/octet-stream", "bin"),
    ]
    documented = spec["paths"]["/audit/{id}/original"]["get"]["responses"]["200"]["content"]
    for data, kind, media_type, suffix in cases:
        record = a_record(sha256_before=vault.keep(data), size_before=len(data))
        entry_id = store.add_audit(
            AuditEntry(
                site="www.strava.com", method="POST", path="/api/v3/uploads",
                policy_site="*.strava.com", filters=["track-privacy"], strength="invisible",
                outcome="protected", format=kind, record=record,
            )
        )  # fmt: skip
        response = await client.get(url(f"/audit/{entry_id}/original"))
        assert response.status == 200, await response.text()
        assert (response.content_type, await response.read()) == (media_type, data)
        assert media_type in documented
        assert response.headers["Content-Disposition"] == (
            f'attachment; filename="original-{entry_id}.{suffix}"'
        )
        assert response.headers["Cache-Control"] == "no-store"


# Pairing ----------------------------------------------------------------------------------


async def pair(client: TestClient, code: object, origin: str | None = ORIGIN) -> Any:
    headers = {"Origin": origin} if origin is not None else {}
    return await client.post(url("/pair"), json={"code": code}, headers=headers)


async def test_pairing_hands_over_the_token_once(make_client: MakeClient) -> None:
    anon = await make_client(Host=HOST)  # no token: that is what pairing is for
    pairing = anon.app[PAIRING_KEY]
    first = pairing.code
    response = await pair(anon, format_code(first).lower())  # typed loosely: still good
    assert response.status == 200
    assert await response.json() == {"token": TOKEN, "proxy_port": None, "version": "0.1.0"}
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    await expect_error(await pair(anon, first), 403, "wrong pairing code")
    assert pairing.code != first
    assert (await pair(anon, pairing.code, origin=None)).status == 200  # a local program


async def test_firefox_origin_is_allowed_once_paired(
    make_client: MakeClient, store: Store, tmp_path: Path
) -> None:
    pairing = Pairing((ORIGIN,), tmp_path / "paired-origins")  # as `veil run` passes its own
    client = await make_client(pairing, Host=HOST, **AUTH)
    firefox = {"Origin": FIREFOX}
    await expect_error(await client.get(url("/policies"), headers=firefox), 403, "origin")
    preflight = {**firefox, "Access-Control-Request-Method": "POST"}
    response = await client.options(url("/pair"), headers=preflight)
    assert response.status == 204 and response.headers["Access-Control-Allow-Origin"] == FIREFOX
    assert (await pair(client, pairing.code, origin=FIREFOX)).status == 200
    response = await client.get(url("/policies"), headers=firefox)
    assert response.status == 200 and response.headers["Access-Control-Allow-Origin"] == FIREFOX
    other_firefox = {"Origin": FIREFOX.replace("0f3c", "1f3c")}
    await expect_error(await client.get(url("/policies"), headers=other_firefox), 403, "origin")
    reloaded = Pairing((ORIGIN,), tmp_path / "paired-origins")  # the next `veil run`
    assert reloaded.allowed(FIREFOX) and not reloaded.allowed(other_firefox["Origin"])


@pytest.mark.parametrize(
    "origin",
    ["https://evil.example", "null", "moz-extension://not-a-uuid", "chrome-extension://other",
     FIREFOX + ".evil.example", "http://127.0.0.1:8351"],
)  # fmt: skip
async def test_pairing_refuses_foreign_origins(make_client: MakeClient, origin: str) -> None:
    anon = await make_client(Host=HOST)
    code = anon.app[PAIRING_KEY].code
    response = await pair(anon, code, origin=origin)
    await expect_error(response, 403, "origin")
    assert "Access-Control-Allow-Origin" not in response.headers
    assert anon.app[PAIRING_KEY].code == code, "a refused origin must not burn the code"
    assert not anon.app[PAIRING_KEY].paired_origins


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [
        (b'{"code": "x"', "application/json", 400, "not valid JSON"),
        (b'{"code": "x", "origin": "y"}', "application/json", 400, "body must be"),
        (b'["code"]', "application/json", 400, "body must be"),
        (b'{"code": 12345678}', "application/json", 403, "pairing code"),
        (b'{"code": "' + b"A" * 40 + b'"}', "application/json", 403, "pairing code"),
        (b'{"code": "x"}', "text/plain", 415, "application/json"),
        (b"code=x", "application/x-www-form-urlencoded", 415, "application/json"),
    ],
)
async def test_bad_pairing_requests(
    make_client: MakeClient, body: bytes, content_type: str, status: int, message: str
) -> None:
    anon = await make_client(Host=HOST)
    headers = {"Origin": ORIGIN, "Content-Type": content_type}
    response = await anon.post(url("/pair"), data=body, headers=headers)
    await expect_error(response, status, message)


async def test_wrong_codes_burn_the_code(make_client: MakeClient) -> None:
    anon = await make_client(Host=HOST)
    pairing = anon.app[PAIRING_KEY]
    announced: list[str] = []
    pairing.on_new_code = announced.append
    first = pairing.code
    wrong = "".join("A" if c != "A" else "B" for c in first)
    for attempt in range(MAX_ATTEMPTS):
        response = await pair(anon, wrong)
        await expect_error(response, 403, "wrong pairing code")
        assert (pairing.code == first) == (attempt < MAX_ATTEMPTS - 1)
    assert "new one" in (await response.json())["error"] and announced == [pairing.code]
    await expect_error(await pair(anon, first), 403, "wrong pairing code")
    assert (await pair(anon, announced[0])).status == 200


async def test_zones_are_stored_checked_and_given_back(client: TestClient, store: Store) -> None:
    assert await (await client.get(url("/zones"))).json() == {"zones": [], "start_time": "minute"}
    work = {**HOME_ZONE, "name": "work", "latitude": 51.52, "strength": "standard"}
    response = await client.put(url("/zones"), json={"zones": [HOME_ZONE, work]})
    assert response.status == 200, await response.text()
    given = await response.json()
    assert given["start_time"] == "minute"
    # A zone sent without a strength gets the default, and says so.
    assert [zone["strength"] for zone in given["zones"]] == ["strongest", "standard"]
    assert [zone.name for zone in store.get_zones().zones] == ["home", "work"]
    assert store.get_zones().zones[1].strength == "standard"
    for bad, says in (
        ({"zones": [{**HOME_ZONE, "latitude": 91}]}, "latitude"),
        ({"zones": [{**HOME_ZONE, "radius_m": 10}]}, "radius_m"),
        ({"zones": [], "start_time": "second"}, "start_time"),
        ({"zones": [{**HOME_ZONE, "name": "  "}]}, "name"),
        ({"zones": [{**HOME_ZONE, "strength": "maximal"}]}, "strength must be one of"),
        ({"zones": [{**HOME_ZONE, "strength": {}}]}, "strength must be one of"),
        ([], "the body must be"),
    ):
        response = await client.put(url("/zones"), json=bad)
        assert response.status == 400 and says in (await response.json())["error"], bad
    assert len(store.get_zones().zones) == 2  # a refused write changed nothing

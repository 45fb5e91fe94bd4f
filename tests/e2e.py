"""The real pieces of every end-to-end test and of the proxy benchmark: an HTTPS site on
127.0.0.1 (:class:`Upstream`) and a `veil run` process (:class:`VeilProcess`), with
:func:`serve_site` and :func:`start_veil` to wire one to the other for a module fixture."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from certs.ca import create_ca

REPO = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def write_upstream_certs(folder: Path, hosts: list[str]) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for ``hosts`` signed by it: (ca, cert, key) PEM paths."""
    ca_key, ca_cert = create_ca("Veil tests", "Veil test upstream CA")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]), False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "upstream-ca.pem", folder / "upstream-cert.pem", folder / "upstream-key.pem"
    paths[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@dataclass
class Received:
    host: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Upstream:
    """An HTTPS site on 127.0.0.1 that records every request it receives."""

    cert: Path
    key: Path
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append(
            Received(request.host, request.method, request.path_qs, dict(request.headers), body)
        )
        return web.json_response({"ok": True, "received_bytes": len(body)})

    async def _start(self) -> None:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=context).start()

    def start(self) -> Upstream:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def bodies(self, path: str) -> list[bytes]:
        return [r.body for r in self.received if r.path.split("?")[0] == path]


class VeilProcess:
    """`python -m veil run` with its own home folder, as a user would start it."""

    def __init__(self, home: Path, settings: dict[str, object]) -> None:
        self.home = home
        self.proxy_port = free_port()
        self.api_port = free_port()
        home.mkdir(parents=True, exist_ok=True)
        settings = {"proxy_port": self.proxy_port, "api_port": self.api_port, **settings}
        (home / "settings.json").write_text(json.dumps(settings))
        self.log_path = home / "veil.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.token = ""

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/api/v1"

    @property
    def ca_cert(self) -> Path:
        return self.home / "ca" / "mitmproxy-ca-cert.pem"

    def start(self) -> VeilProcess:
        env = {**os.environ, "VEIL_HOME": str(self.home), "PYTHONUNBUFFERED": "1"}
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "veil", "run"], cwd=REPO, env=env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"veil run exited:\n{self.log()}")
            token_path = self.home / "token"
            if token_path.exists() and token_path.read_text().strip():
                self.token = token_path.read_text().strip()
                try:
                    if self.api("GET", "/health").status_code == 200 and self._proxy_listening():
                        return self
                except httpx.TransportError:
                    pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"veil run did not start in {STARTUP_TIMEOUT_S} s:\n{self.log()}")

    def _proxy_listening(self) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.proxy_port)) == 0

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def api(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        return httpx.request(method, self.api_url + path, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]

    def audit(
        self, site: str, path: str | None = None, *, want: int = 1, timeout: float = 60
    ) -> list[dict]:
        """The audit entries of ``site`` (at ``path``), once at least ``want`` are there: a
        protected upload's row is written after it is measured, a moment after it left."""
        deadline = time.monotonic() + timeout
        while True:
            response = self.api("GET", f"/audit?site={site}&limit=200")
            assert response.status_code == 200, response.text
            items = [e for e in response.json()["items"] if path is None or e["path"] == path]
            if len(items) >= want or time.monotonic() > deadline:
                return items
            time.sleep(0.1)

    def client(self, *also_trust: Path, **kwargs: object) -> httpx.Client:
        """A client that uses the proxy and trusts Veil's CA, as a configured browser would.

        ``also_trust``: the sites' own CAs, which a browser trusts for the sites Veil tunnels.
        """
        context = ssl.create_default_context(cafile=str(self.ca_cert))
        for cafile in also_trust:
            context.load_verify_locations(cafile=str(cafile))
        return httpx.Client(
            proxy=f"http://127.0.0.1:{self.proxy_port}", verify=context, timeout=120, **kwargs
        )  # type: ignore[arg-type]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


Site = TypeVar("Site", bound=Upstream)


def serve_site(
    tmp_path_factory: pytest.TempPathFactory, hosts: Iterable[str], kind: type[Site] = Upstream
) -> Iterator[Site]:
    """For a module fixture: a ``kind`` site serving ``hosts`` with a certificate from its
    own CA (``site.ca``, a PEM path), stopped afterwards."""
    ca, cert, key = write_upstream_certs(tmp_path_factory.mktemp("site"), list(hosts))
    server = kind(cert, key)
    server.ca = ca  # type: ignore[attr-defined]
    server.start()
    yield server
    server.stop()


def start_veil(
    home: Path,
    site: Upstream,
    protect: Mapping[str, Sequence[str]] = {},
    *,
    hosts: Iterable[str] = (),
    policy: Mapping[str, object] | None = None,
    **settings: object,
) -> VeilProcess:
    """A started `veil run` whose connections for ``hosts`` and the protected hosts go to
    ``site`` (trusting its CA), with one policy per host of ``protect`` (host -> filters);
    ``policy`` adds the other policy fields, ``settings`` more settings.json keys."""
    target = f"127.0.0.1:{site.port}"
    overrides = {host: target for host in [*hosts, *protect]}
    veil = VeilProcess(
        home,
        {
            "connect_overrides": overrides,
            "upstream_trusted_ca": str(site.ca),  # type: ignore[attr-defined]
            **settings,
        },
    ).start()
    for host, names in protect.items():
        body = {"enabled": True, **(policy or {}), "filters": list(names)}
        response = veil.api("PUT", f"/policies/{host}", json=body)
        assert response.status_code in (200, 201), response.text
    return veil

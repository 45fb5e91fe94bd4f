"""`veil run`: the proxy (mitmproxy, embedded) and the control API (aiohttp) in one process."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

import certifi
from aiohttp import web
from mitmproxy.addons.tlsconfig import TlsConfig
from mitmproxy.options import Options
from mitmproxy.tools.dump import DumpMaster

from activities import TrackSettings, describe_activity_filters
from certs.ca import CaFiles
from certs.keeper import CaKeeper
from certs.trust import INSTALL_COMMAND, trust_instructions
from filters import Protector, describe_filters
from proxy.addons import UploadProtector, default_addons
from proxy.addons.streaming import STREAM_LARGE_BODIES
from proxy.api import create_app
from proxy.apitypes import ApiConfig
from proxy.home import HomeLock, HomeNotWritable, check_ports_free, make_private
from proxy.logsafe import redact_logs
from proxy.originals import OriginalsVault
from proxy.outcomes import Outcomes
from proxy.pairing import Pairing, format_code
from proxy.policies import DEFAULT_POLICIES
from proxy.policybook import PolicyBook
from proxy.settings import Settings, ensure_token
from proxy.shutdown import GracefulStop, quiet_cancelled
from proxy.store import Store
from proxy.zones import ensure_zone_secret

__all__ = ["Announce", "ControlApiServer", "StartupError", "announce_code", "serve", "use_new_ca"]

log = logging.getLogger(__name__)

UPSTREAM_BUNDLE = "upstream-ca-bundle.pem"


class ControlApiServer:
    """Serves the control API on the proxy's event loop for as long as the proxy runs."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def running(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()

    async def done(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def _upstream_bundle(settings: Settings) -> str | None:
    """The public roots plus the user's extra CA (mitmproxy takes one file, dropping the roots)."""
    if not settings.upstream_trusted_ca:
        return None
    path = Path(settings.upstream_trusted_ca).expanduser()
    try:
        extra = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not a PEM text file"
        raise StartupError(f"upstream_trusted_ca {path} cannot be read: {reason}") from None
    bundle = settings.home / UPSTREAM_BUNDLE
    bundle.write_text(Path(certifi.where()).read_text() + "\n" + extra)
    return str(bundle)


class StartupError(OSError):
    """`veil run` could not start: the message says why."""


class Announce:
    """Prints where everything is once the proxy, the models and the control API are up."""

    def __init__(self, text: str, ready: Callable[[], bool] = lambda: True) -> None:
        self.text = text
        self.ready = ready

    def running(self) -> None:
        if self.ready():
            print(self.text, flush=True)


def _announcement(
    settings: Settings, ca: CaFiles, policies: int, filters: list[str], code: str
) -> str:
    return (
        f"Veil is running.\n"
        f"  proxy:        http://{settings.listen_host}:{settings.proxy_port}\n"
        f"  control API:  http://127.0.0.1:{settings.api_port}/api/v1 "
        f"(bearer token in {settings.token_path})\n"
        f"  protected:    {policies} site policies; filters: {', '.join(filters)}\n"
        f"  pairing code: {format_code(code)} (type it into the browser extension's "
        f"options; single use)\n"
        f"  home:         {settings.home}\n"
        f"{_originals_line(settings)}"
        f"  CA cert:      {ca.cert_pem} (SHA-256 {ca.fingerprint_sha256})\n"
        f"{trust_instructions(ca.cert_pem)}"
    )


def _originals_line(settings: Settings) -> str:
    if not settings.keep_originals:
        return ""
    return (
        f"  originals:    kept, encrypted, in {settings.originals_dir} for "
        f"{settings.originals_retention_days:g} days (`veil originals` lists them)\n"
    )


def announce_code(code: str) -> None:
    """Print a new pairing code (after one was used or burnt by wrong guesses)."""
    print(f"New pairing code for the browser extension: {format_code(code)}", flush=True)


def use_new_ca(tlsconfig: TlsConfig, ca: CaFiles) -> None:
    """Sign the next connections with the new CA: mitmproxy's addon re-reads its confdir."""
    tlsconfig.configure({"confdir"})
    print(
        f"Protecting a new site took a new CA, {ca.common_name} (SHA-256 "
        f"{ca.fingerprint_sha256}): browsers trust it after `{INSTALL_COMMAND}`.",
        flush=True,
    )


async def serve(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM, alone on the home. The models load once, when the proxy
    starts running.

    Raises:
        HomeInUse: another `veil run` holds the home.
        HomeNotWritable: the home, or a file in it, belongs to someone else or is read-only.
        PortInUse: the proxy or control API port is taken.
        StartupError: the filters could not load their models, or upstream_trusted_ca is
            unreadable.
        CaError: the CA's key is gone while its certificate is still there.
    """
    lock = HomeLock(settings.home).acquire()
    try:
        os.umask(0o077)  # what Veil writes under its home is its owner's alone
        try:
            make_private(settings.home)
        except PermissionError as error:
            raise HomeNotWritable(settings.home, error) from None
        check_ports_free(
            settings.listen_host, {"proxy": settings.proxy_port, "api": settings.api_port}
        )
        await _serve(settings)
    finally:
        lock.release()


def _trusted_sites(store: Store) -> list[str]:
    """The sites the CA may sign for: every policy's, on or off, and the shipped ones, so that
    turning a site on in the popup never needs the browsers to trust a new CA."""
    sites = {policy.site for policy in store.list_policies()}
    return sorted(sites | {policy.site for policy in DEFAULT_POLICIES})


async def _serve(settings: Settings) -> None:
    store = Store.open(settings.db_path)
    # The CA covers the protected sites; a missing key stops here, saying what to do.
    keeper = CaKeeper(settings.ca_dir, lambda: _trusted_sites(store))
    ca = keeper.ca
    token = ensure_token(settings.token_path)
    redact_logs(token)
    book = PolicyBook(store)
    book.on_reload(keeper.refresh)
    image_filter_infos = describe_filters()
    names = [info["name"] for info in image_filter_infos]  # what the worker loads
    filter_infos = image_filter_infos + describe_activity_filters()  # what policies may name

    options = Options(
        listen_host=settings.listen_host,
        listen_port=settings.proxy_port,
        confdir=str(settings.ca_dir),
    )
    master = DumpMaster(options, with_termlog=False, with_dumper=False)
    keeper.on_new(functools.partial(use_new_ca, master.addons.get("tlsconfig")))
    originals = OriginalsVault(
        settings.originals_dir, settings.originals_key_path, settings.originals_retention_days
    )
    origins = tuple(settings.extension_origins)
    pairing = Pairing(origins, settings.paired_origins_path)
    app = create_app(
        store,
        ApiConfig(
            token=token,
            port=settings.api_port,
            allowed_origins=origins,
            proxy_port=settings.proxy_port,
            keep_originals=settings.keep_originals,
        ),
        filter_infos,
        on_policies_changed=book.reload,
        pairing=pairing,
        trust=keeper.status,
        originals=originals,
    )
    # The control API and the announcement come last: the upload protector's running()
    # loads the models first, so that "Veil is running" means ready.
    zone_secret = ensure_zone_secret(settings.zone_secret_path)

    def activity_settings() -> TrackSettings:
        zones = store.get_zones()
        return TrackSettings(zones.zones, zone_secret, zones.start_time)

    addons = default_addons(
        book,
        Outcomes(store),
        Protector(),
        names,
        originals,
        settings.keep_originals,
        activity_settings,
    )
    announcement = _announcement(settings, ca, len(store.list_policies()), names, pairing.code)
    protector = next(addon for addon in addons if isinstance(addon, UploadProtector))
    master.addons.add(
        *addons,
        ControlApiServer(app, "127.0.0.1", settings.api_port),
        Announce(announcement, ready=lambda: protector.startup_error is None),
    )
    options.update(
        connect_overrides=[
            f"{host}={target}" for host, target in settings.connect_overrides.items()
        ],
        filter_deadline_s=float(settings.filter_deadline_s),
        # Connect upstream only when a request goes out: a blocked upload never reaches the site.
        connection_strategy="lazy",
        # A buffered body of unknown size streams, guarded, past the cap (proxy.addons.streaming).
        stream_large_bodies=STREAM_LARGE_BODIES,
        upstream_cert=False,
        ssl_verify_upstream_trusted_ca=_upstream_bundle(settings),
    )
    loop = asyncio.get_running_loop()
    GracefulStop(master).install(loop)
    pairing.on_new_code = announce_code
    try:
        await master.run()
    finally:
        quiet_cancelled(loop)  # what is left is cancelled by asyncio.run, as it should be
        store.close()
        sys.stdout.flush()
    if protector.startup_error is not None:
        raise StartupError(protector.startup_error)

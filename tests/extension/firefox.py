"""Firefox ESR driven over WebDriver BiDi, with no driver in between.

Firefox speaks BiDi itself when started with ``--remote-debugging-port``: this module starts
``firefox-esr --headless`` on a fresh profile, opens a BiDi session over a WebSocket (aiohttp's
client, on a loop in its own thread, behind a blocking interface for the tests), installs the
extension as a temporary add-on (``webExtension.install``) and drives tabs with
``browsingContext`` and ``script`` commands.

The profile lies where Firefox keeps profiles (``HOME/.mozilla/firefox/<name>``), so that
``veil certs install`` finds its NSS database as it would a user's.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp

FIREFOX = Path(os.environ.get("VEIL_FIREFOX", "/usr/bin/firefox-esr"))
# The add-on id of the Firefox build (extension/scripts/build-firefox.mjs).
GECKO_ID = "veil@veil-privacy.invalid"
# Firefox gives each install a random moz-extension://<uuid>; the profile fixes it, so that the
# tests know the extension's origin (a user's is random, and pairing records it in Veil).
EXTENSION_UUID = "5a7c1e0b-3f1d-4c55-9d0e-7e57f1e2b0c4"
EXTENSION_ORIGIN = f"moz-extension://{EXTENSION_UUID}"
STARTUP_TIMEOUT_S = 60


class BiDiError(RuntimeError):
    """A BiDi command answered with an error, or a wait ran out."""


def firefox_version(executable: Path = FIREFOX) -> str:
    """``153.8.0esr`` from ``Mozilla Firefox 153.8.0esr``."""
    result = subprocess.run(
        [str(executable), "--version"], capture_output=True, text=True, timeout=60
    )
    return result.stdout.split()[-1]


class BiDi:
    """One WebDriver BiDi connection: blocking ``command`` calls, and the events received."""

    def __init__(self, url: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict]] = {}
        self.events: list[dict] = []
        self._session: aiohttp.ClientSession | None = None
        self._socket: aiohttp.ClientWebSocketResponse | None = None
        self._run(self._connect(url), 30)

    def _run(self, coroutine: Any, timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _connect(self, url: str) -> None:
        self._session = aiohttp.ClientSession()
        self._socket = await self._session.ws_connect(url, max_msg_size=0, heartbeat=None)
        self._loop.create_task(self._read())

    async def _read(self) -> None:
        assert self._socket is not None
        async for message in self._socket:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(message.data)
            future = self._pending.pop(data.get("id"), None) if "id" in data else None
            if future is not None and not future.done():
                future.set_result(data)
            elif data.get("type") == "event":
                self.events.append(data)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(BiDiError("the BiDi connection closed"))

    async def _command(self, method: str, params: Mapping[str, Any]) -> dict:
        assert self._socket is not None
        number = next(self._ids)
        future: asyncio.Future[dict] = self._loop.create_future()
        self._pending[number] = future
        await self._socket.send_str(json.dumps({"id": number, "method": method, "params": params}))
        return await future

    def command(self, method: str, timeout: float = 60, **params: Any) -> dict:
        answer = self._run(self._command(method, params), timeout)
        if answer.get("type") == "error":
            raise BiDiError(f"{method}: {answer.get('error')}: {answer.get('message')}")
        return answer["result"]

    def close(self) -> None:
        async def close() -> None:
            if self._socket is not None:
                await self._socket.close()
            if self._session is not None:
                await self._session.close()

        try:
            self._run(close(), 10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)


def remote_value(value: dict) -> Any:
    """A BiDi RemoteValue as Python (primitives, arrays, objects); nodes stay as they are."""
    kind = value["type"]
    if kind in ("undefined", "null"):
        return None
    if kind in ("string", "boolean"):
        return value["value"]
    if kind == "number":
        number = value["value"]
        return number if not isinstance(number, str) else float(number.replace("Infinity", "inf"))
    if kind in ("array", "set"):
        return [remote_value(item) for item in value.get("value", [])]
    if kind in ("object", "map"):
        return {
            (key if isinstance(key, str) else remote_value(key)): remote_value(item)
            for key, item in value.get("value", [])
        }
    return value


class Tab:
    """One top-level browsing context."""

    def __init__(self, bidi: BiDi, context: str) -> None:
        self.bidi = bidi
        self.context = context

    def goto(self, url: str) -> None:
        self.bidi.command(
            "browsingContext.navigate", context=self.context, url=url, wait="complete"
        )

    def reload(self) -> None:
        self.bidi.command("browsingContext.reload", context=self.context, wait="complete")

    def set_viewport(self, width: int, height: int) -> None:
        self.bidi.command(
            "browsingContext.setViewport",
            context=self.context,
            viewport={"width": width, "height": height},
        )

    def evaluate(self, expression: str, *, raw: bool = False) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = self.bidi.command(
            "script.evaluate",
            expression=expression,
            target={"context": self.context},
            awaitPromise=True,
            resultOwnership="root" if raw else "none",
        )
        if result["type"] == "exception":
            details = result["exceptionDetails"]
            raise BiDiError(f"{expression!r} threw: {details.get('text')}")
        return result["result"] if raw else remote_value(result["result"])

    def wait_for(
        self, expression: str, timeout_s: float = 30, describe: Callable[[], str] | None = None
    ) -> Any:
        """Poll a JavaScript expression until it is truthy; its value."""
        deadline = time.monotonic() + timeout_s
        value: Any = None
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except BiDiError as error:  # the page is navigating, or not there yet
                value = error
            if value and not isinstance(value, BiDiError):
                return value
            time.sleep(0.1)
        extra = describe() if describe else ""
        raise BiDiError(f"timed out waiting for {expression!r} (last: {value!r}) {extra}")

    def text(self, selector: str) -> str:
        return self.evaluate(f"document.querySelector({json.dumps(selector)}).textContent.trim()")

    def wait_for_text(self, selector: str, pattern: str, timeout_s: float = 30) -> str:
        """Wait until the element's text matches the regular expression; the text."""
        js = f"document.querySelector({json.dumps(selector)})?.textContent.trim() ?? ''"

        def matches() -> bool:
            try:
                return bool(re.search(pattern, self.evaluate(js)))
            except BiDiError:
                return False

        deadline = time.monotonic() + timeout_s
        while not matches():
            if time.monotonic() > deadline:
                raise BiDiError(f"{selector}: {self.evaluate(js)!r} never matched {pattern!r}")
            time.sleep(0.1)
        return self.evaluate(js)

    def set_files(self, selector: str, *paths: Path) -> None:
        node = self.evaluate(f"document.querySelector({json.dumps(selector)})", raw=True)
        self.bidi.command(
            "input.setFiles",
            context=self.context,
            element={"sharedId": node["sharedId"]},
            files=[str(path) for path in paths],
        )

    def screenshot(self, path: Path) -> Path:
        result = self.bidi.command(
            "browsingContext.captureScreenshot", context=self.context, origin="document"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(result["data"]))
        return path

    def close(self) -> None:
        self.bidi.command("browsingContext.close", context=self.context)


# What the test profile sets besides BiDi's own recommended preferences.
PREFS: dict[str, object] = {
    "extensions.webextensions.uuids": json.dumps({GECKO_ID: EXTENSION_UUID}),
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.reportingPolicy.firstRun": False,
    "app.update.disabledForTesting": True,
    "browser.tabs.warnOnClose": False,
    # Notifications in Firefox's own alert window: headless, with no desktop notification
    # service, the system's would close at once and notifications.getAll() find none.
    "alerts.useSystemBackend": False,
    # The extension's console (warnings from its background page) in firefox.log.
    "devtools.console.stdout.chrome": True,
    "devtools.console.stdout.content": True,
}


class Firefox:
    """``firefox-esr --headless`` on its own profile, and a BiDi session with it."""

    def __init__(
        self,
        home: Path,
        prefs: Mapping[str, object] = {},
        executable: Path = FIREFOX,
        profile_name: str = "veil-tests.default",
    ) -> None:
        self.home = home
        self.profile = home / ".mozilla" / "firefox" / profile_name
        self.profile.mkdir(parents=True, exist_ok=True)
        lines = [
            f"user_pref({json.dumps(name)}, {json.dumps(value)});"
            for name, value in {**PREFS, **prefs}.items()
        ]
        (self.profile / "user.js").write_text("\n".join(lines) + "\n")
        self.executable = executable
        self.log_path = home / "firefox.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.bidi: BiDi | None = None
        self.first_tab = ""

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> Firefox:
        env = {**os.environ, "HOME": str(self.home), "MOZ_HEADLESS": "1"}
        env.pop("DISPLAY", None)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [
                    str(self.executable),
                    "--headless",
                    "--no-remote",
                    "--profile",
                    str(self.profile),
                    "--remote-debugging-port",
                    "0",
                    # Lets BiDi navigate a tab to the extension's moz-extension:// pages.
                    "--remote-allow-system-access",
                    "about:blank",
                ],
                env=env,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        url = None
        while url is None:
            found = re.search(r"WebDriver BiDi listening on (ws://\S+)", self.log())
            url = found.group(1) if found else None
            if url is None and (self.process.poll() is not None or time.monotonic() > deadline):
                self.stop()
                raise RuntimeError(f"Firefox did not start:\n{self.log()}")
            time.sleep(0.1)
        self.bidi = BiDi(url.rstrip("/") + "/session")
        self.bidi.command(
            "session.new", capabilities={"alwaysMatch": {"acceptInsecureCerts": False}}
        )
        # New tabs open beside the first one: Firefox's alert windows (a notification, in
        # headless mode) must not become the window a tab opens in.
        self.first_tab = self.session.command("browsingContext.getTree")["contexts"][0]["context"]
        return self

    @property
    def session(self) -> BiDi:
        assert self.bidi is not None, "Firefox is not started"
        return self.bidi

    def install_extension(self, path: Path) -> str:
        """Install an extension (a folder, or an .xpi) as a temporary add-on; its id."""
        kind = "archivePath" if path.is_file() else "path"
        result = self.session.command(
            "webExtension.install", extensionData={"type": kind, "path": str(path)}
        )
        return result["extension"]

    def new_tab(self) -> Tab:
        result = self.session.command(
            "browsingContext.create", type="tab", referenceContext=self.first_tab
        )
        return Tab(self.session, result["context"])

    def stop(self) -> None:
        if self.bidi is not None:
            with contextlib.suppress(Exception):  # Firefox may be gone already
                self.bidi.command("session.end", timeout=10)
            self.bidi.close()
            self.bidi = None
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

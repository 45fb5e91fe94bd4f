"""Veil's home folder: settings, the CA, the database and the API token all live under it."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

__all__ = [
    "DEFAULT_DEADLINE_S",
    "DEFAULT_HOME",
    "EXTENSION_ID",
    "EXTENSION_ORIGIN",
    "Settings",
    "ensure_token",
    "load_settings",
    "parse_override",
]

DEFAULT_HOME = Path("~/.veil")
# Chromium derives an extension's id from the "key" in its manifest (extension/src/manifest.json):
# a fixed id gives a fixed origin that the control API can allow before any pairing.
EXTENSION_ID = "cliofbbfdemojneodkampibogbigekbb"
EXTENSION_ORIGIN = f"chrome-extension://{EXTENSION_ID}"
SETTINGS_FILE = "settings.json"
# A photo whose protection takes longer than this is treated as a failed protection.
DEFAULT_DEADLINE_S = 60.0
# How long kept originals stay (when keep_originals is on), and the longest a user may set.
DEFAULT_RETENTION_DAYS, MAX_RETENTION_DAYS = 30.0, 3650.0
# The control API token is the key to every policy: only its owner may read it.
TOKEN_MODE = 0o600


@dataclass
class Settings:
    """What a user can set in ``$VEIL_HOME/settings.json``; every key is optional."""

    home: Path
    listen_host: str = "127.0.0.1"
    proxy_port: int = 8350
    api_port: int = 8351
    # Browser-extension origins allowed to call the control API (with the token). Veil's own
    # Chromium extension by default; a list here replaces the default. Firefox's per-install
    # moz-extension:// origins are added by pairing (see proxy.pairing), not listed here.
    extension_origins: list[str] = field(default_factory=lambda: [EXTENSION_ORIGIN])
    filter_deadline_s: float = DEFAULT_DEADLINE_S
    # host -> "ip:port": where to connect for that host (a local test site, a dev server).
    connect_overrides: dict[str, str] = field(default_factory=dict)
    # Extra PEM CA bundle trusted for upstream sites, added to the public roots.
    upstream_trusted_ca: str | None = None
    # Keep each original, encrypted, beside its protected upload (proxy.originals): off by
    # default, since an original holds what Veil removed; deleted after the retention limit.
    keep_originals: bool = False
    originals_retention_days: float = DEFAULT_RETENTION_DAYS

    @property
    def ca_dir(self) -> Path:
        return self.home / "ca"

    @property
    def db_path(self) -> Path:
        return self.home / "veil.db"

    @property
    def token_path(self) -> Path:
        return self.home / "token"

    @property
    def paired_origins_path(self) -> Path:
        return self.home / "paired-origins"

    @property
    def zone_secret_path(self) -> Path:
        return self.home / "zones.key"

    @property
    def originals_dir(self) -> Path:
        return self.home / "originals"

    @property
    def originals_key_path(self) -> Path:
        return self.home / "originals.key"

    @property
    def settings_path(self) -> Path:
        return self.home / SETTINGS_FILE

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("home")
        return data


def parse_override(spec: str) -> tuple[str, tuple[str, int]]:
    """``host=ip:port`` as (lower-cased host, (ip, port)).

    Raises:
        ValueError: not in that form.

    >>> parse_override("Photos.Example=127.0.0.1:8443")
    ('photos.example', ('127.0.0.1', 8443))
    """
    host, sep, target = spec.partition("=")
    address, _, port = target.rpartition(":")
    if not sep or not host.strip() or not address or not port.isdigit():
        raise ValueError(f"a connect override must be host=ip:port, not {spec!r}")
    return host.strip().lower(), (address.strip("[]"), int(port))


def _check(settings: Settings) -> Settings:
    for name in ("proxy_port", "api_port"):
        port = getattr(settings, name)
        if not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"{name} must be a TCP port number, not {port!r}")
    if settings.proxy_port == settings.api_port:
        raise ValueError("proxy_port and api_port must differ")
    if not isinstance(settings.listen_host, str) or not settings.listen_host:
        raise ValueError(
            f"listen_host must be an address like 127.0.0.1, not {settings.listen_host!r}"
        )
    if not isinstance(settings.upstream_trusted_ca, str | None):
        raise ValueError("upstream_trusted_ca must be the path of a PEM file, or null")
    if not isinstance(settings.filter_deadline_s, int | float) or settings.filter_deadline_s <= 0:
        raise ValueError("filter_deadline_s must be a positive number of seconds")
    if not isinstance(settings.extension_origins, list) or not all(
        isinstance(origin, str) and "://" in origin for origin in settings.extension_origins
    ):
        raise ValueError("extension_origins must be a list of origins like chrome-extension://ID")
    if not isinstance(settings.keep_originals, bool):
        raise ValueError("keep_originals must be true or false")
    days = settings.originals_retention_days
    if (
        not isinstance(days, int | float)
        or isinstance(days, bool)
        or not 0 < days <= MAX_RETENTION_DAYS
    ):
        raise ValueError(
            f"originals_retention_days must be a number of days above 0 and at most "
            f"{MAX_RETENTION_DAYS:g}, not {days!r}"
        )
    for host, target in settings.connect_overrides.items():
        try:
            parse_override(f"{host}={target}")
        except ValueError:
            raise ValueError(
                f"connect_overrides[{host!r}] must be 'ip:port', not {target!r}"
            ) from None
    return settings


def load_settings(home: Path | str | None = None, **overrides: object) -> Settings:
    """Read ``settings.json`` from the home folder (created 0700 if missing).

    ``home`` defaults to ``$VEIL_HOME``, else ``~/.veil``. ``overrides`` (e.g. from the
    command line) win over the file. Raises ValueError for unknown keys or bad values.
    """
    home_path = Path(home or os.environ.get("VEIL_HOME") or DEFAULT_HOME).expanduser().resolve()
    home_path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = home_path / SETTINGS_FILE
    data: dict[str, object] = {}
    if path.exists():
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON: {error}") from error
        if not isinstance(data, dict):
            raise ValueError(f"{path} must hold a JSON object")
    known = {f.name for f in fields(Settings)} - {"home"}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"{path}: unknown settings {sorted(unknown)}; known: {sorted(known)}")
    data.update({key: value for key, value in overrides.items() if value is not None})
    try:
        settings = Settings(home=home_path, **data)  # type: ignore[arg-type]
    except TypeError as error:
        raise ValueError(f"{path}: {error}") from error
    if not isinstance(settings.connect_overrides, dict):
        raise ValueError(f"{path}: connect_overrides must be an object of host: 'ip:port'")
    settings.connect_overrides = {k.lower(): v for k, v in settings.connect_overrides.items()}
    return _check(settings)


def ensure_token(path: Path) -> str:
    """The control API's bearer token, created once with mode 0600."""
    if path.exists():
        token = path.read_text().strip()
        if token:
            return token
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, TOKEN_MODE)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    os.chmod(path, TOKEN_MODE)
    return token

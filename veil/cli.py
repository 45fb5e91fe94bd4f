"""The `veil` command: `run` (the proxy and its control API), `service` (start it at login),
`certs` (and its alias `trust`), `filters`, `audit`, `originals`, and the batch tools `protect`
and `bench`. It sits above every package and imports each lazily. Every error ends as one
line on stderr."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from batch.commands import add_commands
from certs.commands import add_commands as add_certs_commands
from certs.errors import TrustError
from proxy.auditcli import add_audit_commands
from proxy.home import HomeNotWritable
from proxy.originalscli import add_originals_commands
from proxy.settings import DEFAULT_HOME, SETTINGS_FILE, Settings, load_settings
from veil.startup import ServiceError, add_service_commands

__all__ = ["main"]


# What the command exits with: a setting or a check that the user must mend (a restart would
# not help: see veil.startup), and a bug.
USER_ERROR_EXIT, BUG_EXIT = 2, 1
# As a shell reports a program stopped by Ctrl-C (128 + SIGINT).
INTERRUPTED_EXIT = 130


def _load_settings(args: argparse.Namespace, **overrides: object) -> Settings:
    """load_settings, with a home that cannot be made or read, and a settings.json that is
    not text, said as such."""
    home = Path(args.home or os.environ.get("VEIL_HOME") or DEFAULT_HOME).expanduser()
    try:
        return load_settings(args.home, **overrides)
    except UnicodeDecodeError:
        raise ValueError(f"{home / SETTINGS_FILE} is not UTF-8 JSON text") from None
    except OSError as error:
        raise HomeNotWritable(home, error) from None


def _run(args: argparse.Namespace) -> int:
    settings = _load_settings(args, proxy_port=args.proxy_port, api_port=args.api_port)
    from proxy.service import serve  # heavy imports (torch) only for the commands that need them

    asyncio.run(serve(settings))
    # Everything is closed: spare the interpreter's exit seconds of garbage collection over
    # the models' and mitmproxy's objects (finalize_modules collects them again and again).
    gc.freeze()
    return 0


def _locate_ca(args: argparse.Namespace) -> tuple[Path, Callable[[], list[str]]]:
    """Where `veil certs` finds the CA, and the protected sites its constraints must cover."""
    settings = _load_settings(args)

    def sites() -> list[str]:
        from proxy.store import Store

        store = Store.open(settings.db_path)
        try:
            return store.protected_sites()
        finally:
            store.close()

    return settings.ca_dir, sites


def _filters(args: argparse.Namespace) -> int:
    from filters import describe_filters

    infos = describe_filters()
    width = max(len(info["name"]) for info in infos)
    for info in infos:
        print(f"{info['name']:<{width}}  {info['description']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="veil", description=__doc__)
    parser.add_argument(
        "--home", type=Path, help="Veil's home folder (default $VEIL_HOME or ~/.veil)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the proxy and the control API")
    run.add_argument("--proxy-port", type=int, help="proxy port (default 8350)")
    run.add_argument("--api-port", type=int, help="control API port (default 8351)")
    run.set_defaults(handler=_run)

    add_service_commands(commands)
    add_certs_commands(commands, _locate_ca)

    filters = commands.add_parser("filters", help="list the available filters")
    filters.set_defaults(handler=_filters)
    add_commands(commands)
    add_audit_commands(commands)
    add_originals_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.handler(args)
    except KeyboardInterrupt:  # Ctrl-C before `veil run` took over SIGINT, or in another command
        print("veil: stopped", file=sys.stderr)
        return INTERRUPTED_EXIT
    except (ValueError, OSError, TrustError, ServiceError) as error:  # CaError is a ValueError
        print(f"veil: error: {describe_error(error)}", file=sys.stderr)
        return USER_ERROR_EXIT
    except Exception as error:  # a bug: still one line, and the traceback when asked for
        if args.verbose:
            traceback.print_exc()
        print(
            f"veil: error: unexpected {type(error).__name__}: {describe_error(error)} "
            "(run with -v for the traceback)",
            file=sys.stderr,
        )
        return BUG_EXIT


def describe_error(error: BaseException) -> str:
    """One line: an OSError as "path: reason" rather than "[Errno 2] ...: 'path'"."""
    if isinstance(error, OSError) and error.strerror and error.filename:
        return f"{error.filename}: {error.strerror}"
    return " ".join(str(error).split()) or type(error).__name__


if __name__ == "__main__":
    sys.exit(main())

"""The `veil` command: `run` (the proxy and its control API), `certs` (and its alias `trust`),
`filters`, `audit`, `originals`, and the batch tools `protect` and `bench`. It sits above every
package and imports each lazily."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from batch.commands import add_commands
from certs.commands import add_commands as add_certs_commands
from certs.errors import TrustError
from proxy.auditcli import add_audit_commands
from proxy.originalscli import add_originals_commands
from proxy.settings import load_settings

__all__ = ["main"]


def _run(args: argparse.Namespace) -> int:
    from proxy.service import serve  # heavy imports (torch) only for the commands that need them

    settings = load_settings(args.home, proxy_port=args.proxy_port, api_port=args.api_port)
    asyncio.run(serve(settings))
    return 0


def _locate_ca(args: argparse.Namespace) -> tuple[Path, Callable[[], list[str]]]:
    """Where `veil certs` finds the CA, and the protected sites its constraints must cover."""
    settings = load_settings(args.home)

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
    except (ValueError, OSError, TrustError) as error:  # CaError is a ValueError
        print(f"veil: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

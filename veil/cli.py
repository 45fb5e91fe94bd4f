"""The `veil` command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from proxy.settings import load_settings

__all__ = ["main"]


def _run(args: argparse.Namespace) -> int:
    from proxy.service import serve  # heavy imports (torch) only for the commands that need them

    settings = load_settings(args.home, proxy_port=args.proxy_port, api_port=args.api_port)
    asyncio.run(serve(settings))
    return 0


def _trust(args: argparse.Namespace) -> int:
    from certs.ca import ensure_ca
    from certs.trust import install_nss_trust

    settings = load_settings(args.home)
    ca = ensure_ca(settings.ca_dir)
    install_nss_trust(ca.cert_pem, args.nssdb)
    print(f"Trusted {ca.cert_pem} for Chromium and Firefox (NSS database {args.nssdb}).")
    return 0


def _filters(args: argparse.Namespace) -> int:
    from filters import describe_filters

    for info in describe_filters():
        print(f"{info['name']:<12} {info['description']}")
    return 0


def _names(values: list[str] | None, default: tuple[str, ...]) -> list[str]:
    """Repeated and comma-separated option values as one list, in order, without repeats."""
    if not values:
        return list(default)
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    return list(dict.fromkeys(names))


def _protect(args: argparse.Namespace) -> int:
    from filters import Protector
    from filters.batch import (
        PhotoReport,
        ProgressBar,
        check_options,
        plan_jobs,
        protect_batch,
        write_report,
    )
    from proxy.policies import DEFAULT_FILTERS

    filters = _names(args.filter, DEFAULT_FILTERS)
    check_options(filters, args.strength, args.profile)  # before the models load
    jobs, failed = plan_jobs(args.inputs, args.out)
    protector = Protector()
    protector.load(filters)
    judge = None
    if args.report is not None:
        from filters.judge import Judge

        judge = Judge.load()
    bar = ProgressBar(len(jobs))
    reports_dir = args.report.resolve() if args.report is not None else None
    out = args.out.resolve()

    def done(report: PhotoReport) -> None:
        bar.update(Path(report.source).name)
        if reports_dir is not None and report.output is not None:
            relative = Path(report.output).relative_to(out)
            write_report(report, reports_dir / relative.with_name(relative.name + ".json"))

    reports = failed + protect_batch(
        jobs,
        protector,
        filters,
        args.strength,
        profile=args.profile,
        seed=args.seed,
        judge=judge,
        on_done=done,
    )
    for report in reports:
        if report.ok:
            before, after = report.surrogate_before or {}, report.surrogate_after or {}
            similarity = "–" if report.ssim is None else f"{report.ssim:.4f}"
            print(
                f"ok    {report.output}  {before.get('label')} -> {after.get('label')}  "
                f"SSIM {similarity}  {(report.elapsed_ms or 0) / 1000:.1f} s"
            )
        else:
            print(f"FAIL  {report.source}: {report.error}")
    bad = sum(not report.ok for report in reports)
    print(f"{len(reports) - bad} of {len(reports)} photos protected into {args.out}")
    return 1 if bad else 0


def _bench(args: argparse.Namespace) -> int:
    from filters import Protector
    from filters.batch import ProgressBar
    from filters.bench_report import markdown_table, write_outputs
    from filters.evaluation import (
        DEFAULT_DATA,
        BenchConfig,
        load_samples,
        parse_size,
        run_bench,
        steps,
    )
    from filters.judge import Judge
    from filters.platforms import PLATFORM_PROFILES

    config = BenchConfig(
        filters=tuple(_names(args.filters, ("pfgsm",))),
        strengths=tuple(_names(args.strengths, ("medium",))),
        profiles=tuple(_names(args.profiles, tuple(PLATFORM_PROFILES))),
        data=args.data or DEFAULT_DATA,
        limit=args.limit,
        size=None if args.size is None else parse_size(args.size),
        sheet_photos=args.sheet_photos,
    )
    count = len(load_samples(config.data, config.limit))  # fails fast on bad data
    bar = ProgressBar(steps(config, count))
    run = run_bench(config, Protector(), Judge.load(), progress=bar.update)
    paths = write_outputs(run, args.out)
    print(markdown_table(run.summary), end="")
    print("Wrote " + ", ".join(str(path) for path in paths))
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

    trust = commands.add_parser(
        "trust", help="trust Veil's CA in the NSS database (Chromium, Firefox)"
    )
    trust.add_argument(
        "--nssdb", type=Path, default=Path("~/.pki/nssdb").expanduser(), help="NSS database folder"
    )
    trust.set_defaults(handler=_trust)

    filters = commands.add_parser("filters", help="list the available filters")
    filters.set_defaults(handler=_filters)
    _add_protect(commands)
    _add_bench(commands)
    return parser


def _add_protect(commands: argparse._SubParsersAction) -> None:
    protect = commands.add_parser(
        "protect",
        help="protect photo files and folders",
        description="Protect photos: each goes under --out with its own file name and format; "
        "a folder's photos keep their paths inside it. Inputs are never overwritten.",
    )
    protect.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="files or folders")
    protect.add_argument("--out", type=Path, required=True, help="folder for protected photos")
    protect.add_argument(
        "--filter",
        action="append",
        metavar="NAME",
        help="filter to apply, repeatable or comma-separated (default: metadata,pfgsm)",
    )
    protect.add_argument("--strength", default="medium", help="low, medium or high")
    protect.add_argument(
        "--profile", default="facebook", help="platform to survive: facebook, instagram or none"
    )
    protect.add_argument("--seed", type=int, help="repeatable results (default from each file)")
    protect.add_argument(
        "--report",
        type=Path,
        metavar="DIR",
        help="write a JSON report per photo here (labels from surrogate and judge, SSIM, ΔE)",
    )
    protect.set_defaults(handler=_protect)


def _add_bench(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser(
        "bench",
        help="measure the filters against a held-out classifier",
        description="For each filter, strength and platform profile: the held-out judge's "
        "accuracy on original and protected photos after the platform, the surrogate's "
        "fooling rate, SSIM, PSNR, CIEDE2000, time and memory.",
    )
    bench.add_argument("--data", type=Path, help="folder with labels.csv and the photos")
    bench.add_argument("--filters", action="append", help="comma-separated (default pfgsm)")
    bench.add_argument("--strengths", action="append", help="comma-separated (default medium)")
    bench.add_argument(
        "--profiles", action="append", help="comma-separated (default none,facebook,instagram)"
    )
    bench.add_argument("--limit", type=int, help="only the first N photos")
    bench.add_argument("--size", help="rescale photos first, e.g. 12MP or 4000x3000")
    bench.add_argument(
        "--sheet-photos", type=int, default=4, help="photos on the contact sheet (default 4)"
    )
    bench.add_argument(
        "--out",
        type=Path,
        default=Path("benchmarks/results/filters"),
        help="output folder (default benchmarks/results/filters)",
    )
    bench.set_defaults(handler=_bench)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.handler(args)
    except (ValueError, OSError) as error:
        print(f"veil: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

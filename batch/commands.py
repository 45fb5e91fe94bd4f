"""``veil protect`` and ``veil bench``: the batch tools' commands, added to the `veil` parser.

Heavy imports (torch, the judge, matplotlib) happen inside the handlers, when they run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from filters import (
    DEFAULT_FACES,
    DEFAULT_FILTERS,
    DEFAULT_PROFILE,
    DEFAULT_STRENGTH,
    PROFILES,
    STRENGTHS,
    WHOSE_FACES,
)

__all__ = ["add_commands", "names"]


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``protect`` and ``bench`` to the `veil` command's subcommands."""
    _add_protect(commands)
    _add_bench(commands)


def names(values: list[str] | None, default: tuple[str, ...]) -> list[str]:
    """Repeated and comma-separated option values as one list, in order, without repeats."""
    if not values:
        return list(default)
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    return list(dict.fromkeys(names))


def _protect(args: argparse.Namespace) -> int:
    from batch.files import (
        PhotoReport,
        ProgressBar,
        check_options,
        plan_jobs,
        protect_batch,
        write_report,
    )
    from filters import Protector

    filters = names(args.filter, DEFAULT_FILTERS)
    check_options(filters, args.strength, args.profile, args.faces)  # before the models load
    jobs, failed = plan_jobs(args.inputs, args.out)
    protector = Protector()
    judge = None
    if jobs:  # the models load only when there is a photo to protect
        protector.load(filters)
        if args.report is not None:
            from batch.judge import Judge

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
        faces=args.faces,
    )
    for report in reports:
        if report.ok and report.record is not None:
            record = report.record
            labels = (
                f"{record.label_before} -> {record.label_after}  " if record.label_before else ""
            )
            print(
                f"ok    {report.output}  {labels}"
                f"SSIMULACRA2 {record.ssimulacra2:.1f} (the platform's own JPEG: "
                f"{record.platform_ssimulacra2:.1f}), {record.visibility}  "
                f"{record.elapsed_ms / 1000:.1f} s"
            )
        else:
            print(f"FAIL  {report.source}: {report.error}")
    bad = sum(not report.ok for report in reports)
    print(f"{len(reports) - bad} of {len(reports)} photos protected into {args.out}")
    return 1 if bad else 0


def _face_bench(args: argparse.Namespace) -> int:
    from batch.face_bench import load_people, run_face_bench
    from batch.face_judge import FaceJudge
    from batch.files import ProgressBar
    from batch.report import face_table, write_face_outputs
    from batch.samples import DEFAULT_DATA
    from filters import Protector

    data = args.data or DEFAULT_DATA.parent / "faces"
    filters = names(args.filters, ("faces-cloak",))
    strengths = names(args.strengths, (DEFAULT_STRENGTH,))
    profiles = names(args.profiles, ("facebook",))
    photos = sum(len(paths) for paths in load_people(data).values())
    bar = ProgressBar(photos * len(filters) * len(strengths) * len(profiles))
    run = run_face_bench(
        Protector(), FaceJudge.load(), data, filters, strengths, profiles, progress=bar.update
    )
    paths = write_face_outputs(run, args.out or Path("benchmarks/results/faces"))
    print(face_table(run["summary"]), end="")
    print("Wrote " + ", ".join(str(path) for path in paths))
    return 0


def _activity_bench(args: argparse.Namespace) -> int:
    from batch.activity_bench import run_activity_bench, write_activity_results

    results = run_activity_bench(homes=args.limit or 10)
    out = (args.out or Path("benchmarks/results")) / "activities.json"
    print(json.dumps({k: v for k, v in results.items() if k != "machine"}, indent=1))
    print(f"written to {write_activity_results(results, out)}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    if args.activities:
        return _activity_bench(args)
    if args.faces:
        return _face_bench(args)
    from batch.bench import run_bench, steps
    from batch.files import ProgressBar
    from batch.judge import Judge
    from batch.report import markdown_table, write_outputs
    from batch.results import BenchConfig
    from batch.samples import DEFAULT_DATA, load_samples, parse_size
    from filters import Protector

    config = BenchConfig(
        filters=tuple(names(args.filters, ("pfgsm",))),
        strengths=tuple(names(args.strengths, (DEFAULT_STRENGTH,))),
        profiles=tuple(names(args.profiles, PROFILES)),
        data=args.data or DEFAULT_DATA,
        limit=args.limit,
        size=None if args.size is None else parse_size(args.size),
        sheet_photos=args.sheet_photos,
    )
    count = len(load_samples(config.data, config.limit))  # fails fast on bad data
    bar = ProgressBar(steps(config, count))
    run = run_bench(config, Protector(), Judge.load(), progress=bar.update)
    paths = write_outputs(run, args.out or Path("benchmarks/results/filters"))
    print(markdown_table(run.summary), end="")
    print("Wrote " + ", ".join(str(path) for path in paths))
    return 0


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
        help="filter to apply, repeatable or comma-separated (default: "
        + ",".join(DEFAULT_FILTERS)
        + ")",
    )
    protect.add_argument("--strength", default=DEFAULT_STRENGTH, help=" or ".join(STRENGTHS))
    protect.add_argument(
        "--profile", default=DEFAULT_PROFILE, help="platform to survive: " + " or ".join(PROFILES)
    )
    protect.add_argument("--seed", type=int, help="repeatable results (default from each file)")
    protect.add_argument(
        "--faces",
        default=DEFAULT_FACES,
        help="whose faces the face filters change: all, bystanders (all but the largest) or "
        f"none (one of {', '.join(WHOSE_FACES)})",
    )
    protect.add_argument(
        "--report",
        type=Path,
        metavar="DIR",
        help="write a JSON report per photo here (labels from surrogate and judge, "
        "SSIMULACRA2, Butteraugli, SSIM, ΔE)",
    )
    protect.set_defaults(handler=_protect)


def _add_bench(commands: argparse._SubParsersAction) -> None:
    bench = commands.add_parser(
        "bench",
        help="measure the filters against a held-out classifier",
        description="For each filter, strength and platform profile: the held-out judge's "
        "accuracy on original and protected photos after the platform, the surrogate's "
        "fooling rate, visibility (SSIMULACRA2, Butteraugli, beside the platform's own JPEG; "
        "SSIM, PSNR, CIEDE2000), time and memory; a frontier plot, a contact sheet and crops.",
    )
    bench.add_argument(
        "--faces",
        action="store_true",
        help="the face benchmark: faces-cloak (or --filters) on ../shared/data/faces (or "
        "--data: a folder per person, and groups/), measured with dlib's recogniser",
    )
    bench.add_argument(
        "--activities",
        action="store_true",
        help="the activity filters: track-privacy against the home-finding attack, the files' "
        "validity and a 2-hour FIT file's time (--limit: homes, default 10)",
    )
    bench.add_argument("--data", type=Path, help="folder with labels.csv and the photos")
    bench.add_argument("--filters", action="append", help="comma-separated (default pfgsm)")
    bench.add_argument(
        "--strengths", action="append", help=f"comma-separated (default {DEFAULT_STRENGTH})"
    )
    bench.add_argument(
        "--profiles", action="append", help=f"comma-separated (default {','.join(PROFILES)})"
    )
    bench.add_argument("--limit", type=int, help="only the first N photos")
    bench.add_argument("--size", help="rescale photos first, e.g. 12MP or 4000x3000")
    bench.add_argument(
        "--sheet-photos", type=int, default=4, help="photos on the contact sheet (default 4)"
    )
    bench.add_argument(
        "--out",
        type=Path,
        help="output folder (default benchmarks/results/filters, or .../faces with --faces)",
    )
    bench.set_defaults(handler=_bench)

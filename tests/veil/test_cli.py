"""The `veil` command line: protect, bench, and the older commands still there."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from batch.report import OUTPUT_FILES
from filters.codecs.formats import sniff_format
from tests.batch.test_bench import tiny_sample
from tests.conftest import REPO, jpeg_with_private_metadata
from tests.photos import PHOTOS, encoded, opened, real_image
from veil.cli import build_parser, main


@pytest.fixture
def folder(tmp_path):
    photos = tmp_path / "photos"
    (photos / "album").mkdir(parents=True)
    (photos / "hen.jpg").write_bytes(jpeg_with_private_metadata(real_image(PHOTOS[0])))
    (photos / "album" / "unicycle.png").write_bytes(encoded(real_image(PHOTOS[1]), "PNG"))
    return photos


def test_parser_knows_every_command():
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert {"run", "trust", "filters", "protect", "bench"} <= set(commands)


@pytest.mark.slow
def test_protect_folder_keeps_names_formats_and_writes_reports(folder, tmp_path, capsys):
    out, reports = tmp_path / "out", tmp_path / "reports"
    inputs = {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}
    argv = ["protect", str(folder), "--out", str(out), "--filter", "metadata"]
    code = main([*argv, "--profile", "instagram", "--report", str(reports)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "2 of 2 photos protected" in captured.out
    assert "2/2" in captured.err  # the progress bar
    for source, data in inputs.items():
        relative = source.relative_to(folder)
        written = (out / relative).read_bytes()
        assert sniff_format(written) == sniff_format(data)
        assert opened(written).size == opened(data).size
        assert source.read_bytes() == data  # the input is untouched
        report = json.loads((reports / f"{relative}.json").read_text())
        assert report["source"] == str(source) and report["output"] == str(out / relative)
        assert report["judge_before"]["label"] and report["judge_after_upload"]["label"]
        assert report["profile"] == "instagram" and report["filters"] == ["metadata"]
    assert b"Canon" in inputs[folder / "hen.jpg"]
    assert b"Canon" not in (out / "hen.jpg").read_bytes()


@pytest.mark.slow
def test_protect_reports_a_bad_file_and_goes_on(folder, tmp_path, capsys):
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    (folder / "readme.txt").write_text("skipped: not a photo name")
    code = main(["protect", str(folder), "--out", str(tmp_path / "out"), "--filter", "metadata"])
    captured = capsys.readouterr()
    assert code == 1
    assert f"FAIL  {folder / 'broken.jpg'}" in captured.out
    assert "2 of 3 photos protected" in captured.out
    assert (tmp_path / "out" / "hen.jpg").is_file()
    assert not (tmp_path / "out" / "broken.jpg").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--filter", "nosuch"], "unknown filter 'nosuch'"),
        (["--profile", "myspace"], "unknown platform profile"),
        (["--strength", "extreme"], "unknown strength"),
    ],
)
def test_protect_bad_options_fail_clearly(folder, tmp_path, capsys, extra, message):
    code = main(["protect", str(folder), "--out", str(tmp_path / "out"), *extra])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_protect_refuses_to_write_over_its_inputs(folder, capsys):
    before = (folder / "hen.jpg").read_bytes()
    assert main(["protect", str(folder), "--out", str(folder)]) == 2
    assert "would overwrite the inputs" in capsys.readouterr().err
    assert main(["protect", str(folder / "hen.jpg"), "--out", str(folder)]) == 1
    assert "is an input photo" in capsys.readouterr().out
    assert (folder / "hen.jpg").read_bytes() == before


@pytest.mark.slow
def test_bench_quick_mode(tmp_path, capsys):
    data = tiny_sample(tmp_path / "data")
    out = tmp_path / "bench"
    argv = ["bench", "--data", str(data), "--limit", "2", "--filters", "metadata"]
    code = main([*argv, "--strengths", "low", "--profiles", "none,facebook", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "| metadata | invisible | facebook | 2/2 |" in captured.out
    assert "4/4" in captured.err
    results = json.loads((out / "results.json").read_text())
    assert [row["profile"] for row in results["summary"]] == ["none", "facebook"]
    # The metadata filter leaves pixels alone: the judge sees the same photo.
    assert all(row["judge_before"] == row["judge_after"] for row in results["photos"])
    assert {path.name for path in out.iterdir()} == set(OUTPUT_FILES)


def test_bench_bad_options_fail_clearly(tmp_path, capsys):
    assert main(["bench", "--data", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "no labels.csv" in capsys.readouterr().err
    assert main(["bench", "--size", "big", "--limit", "1", "--out", str(tmp_path / "o")]) == 2
    assert "--size must be like" in capsys.readouterr().err


@pytest.mark.slow
def test_installed_command_protects_a_file(tmp_path):
    """The real entry point in a fresh process, as a user runs it."""
    source = tmp_path / "hen.webp"
    source.write_bytes(encoded(real_image(PHOTOS[0]), "WEBP", lossless=True))
    command = [sys.executable, "-m", "veil", "protect", str(source), "--out", str(tmp_path / "o")]
    done = subprocess.run(
        [*command, "--filter", "metadata"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert sniff_format((tmp_path / "o" / "hen.webp").read_bytes()) == "WEBP"
    listed = subprocess.run(
        [sys.executable, "-m", "veil", "filters"], cwd=REPO, capture_output=True, text=True
    )
    assert "pfgsm" in listed.stdout

"""filters/batch.py: planning outputs, protecting a folder, reports, the progress bar."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from batch.files import (
    BatchError,
    PhotoReport,
    ProgressBar,
    check_options,
    plan_jobs,
    protect_batch,
    write_report,
)
from filters import Protector
from filters.codecs import decode
from filters.codecs.formats import sniff_format
from tests.conftest import jpeg_with_private_metadata
from tests.photos import PHOTOS, encoded, opened, real_image


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """A folder of real photos in three formats, one in a subfolder, and a text file."""
    folder = tmp_path / "in"
    (folder / "trip").mkdir(parents=True)
    (folder / "hen.jpg").write_bytes(jpeg_with_private_metadata(real_image(PHOTOS[0])))
    (folder / "trip" / "unicycle.PNG").write_bytes(encoded(real_image(PHOTOS[1]), "PNG"))
    (folder / "sauce.webp").write_bytes(encoded(real_image(PHOTOS[2]), "WEBP", quality=90))
    (folder / "notes.txt").write_text("not a photo")
    return folder


def test_plan_mirrors_folders_and_takes_named_files(photos, tmp_path):
    out = tmp_path / "out"
    jobs, failed = plan_jobs([photos, photos / "hen.jpg"], out)
    targets = {job.source.relative_to(photos).as_posix(): job.target for job in jobs}
    assert targets == {
        "hen.jpg": out.resolve() / "hen.jpg",
        "sauce.webp": out.resolve() / "sauce.webp",
        "trip/unicycle.PNG": out.resolve() / "trip" / "unicycle.PNG",
    }
    # The same photo named twice would write one output twice: refused, not overwritten.
    assert [report.source for report in failed] == [str(photos / "hen.jpg")]
    assert "already writes" in failed[0].error


def test_plan_never_targets_an_input(photos, tmp_path):
    with pytest.raises(BatchError, match="input folder"):
        plan_jobs([photos], photos)
    # Writing a named file's output into its own folder would replace it.
    jobs, failed = plan_jobs([photos / "hen.jpg", tmp_path / "missing.jpg"], photos)
    assert jobs == []
    errors = {Path(report.source).name: report.error for report in failed}
    assert "is an input photo" in errors["hen.jpg"]
    assert errors["missing.jpg"] == "no such file or folder"
    with pytest.raises(BatchError, match="no input"):
        plan_jobs([], tmp_path)


def test_plan_skips_earlier_outputs_inside_the_input_folder(photos):
    out = photos / "protected"
    (out).mkdir()
    (out / "hen.jpg").write_bytes((photos / "hen.jpg").read_bytes())
    jobs, failed = plan_jobs([photos], out)
    assert failed == []
    assert all(not job.source.resolve().is_relative_to(out.resolve()) for job in jobs)
    assert len(jobs) == 3


def test_batch_keeps_names_formats_sizes_and_inputs(photos, tmp_path, surrogate):
    before = {path: path.read_bytes() for path in photos.rglob("*") if path.is_file()}
    jobs, _ = plan_jobs([photos], tmp_path / "out")
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    jobs += plan_jobs([photos / "broken.jpg"], tmp_path / "out")[0]
    seen: list[PhotoReport] = []
    reports = protect_batch(
        jobs, Protector(surrogate), ["metadata"], "low", profile="none", on_done=seen.append
    )
    assert seen == reports
    assert [report.ok for report in reports] == [True, True, True, False]
    assert "cannot decode" in reports[-1].error or "not an image" in reports[-1].error
    assert not (tmp_path / "out" / "broken.jpg").exists()
    for job, report in zip(jobs[:3], reports[:3], strict=True):
        original, written = job.source.read_bytes(), job.target.read_bytes()
        assert job.target.name == job.source.name
        assert sniff_format(written) == sniff_format(original) == report.format
        record = report.record
        assert opened(written).size == opened(original).size == (record.width, record.height)
        # The metadata filter leaves pixels alone: the classifier's label cannot change.
        assert record.label_after == record.label_before
        assert record.confidence_after == record.confidence_before
        assert report.judge_before is None  # no judge asked for
    assert "GPS" in " ".join(reports[0].record.metadata_removed)
    for path, data in before.items():
        assert path.read_bytes() == data
    assert not list((tmp_path / "out").rglob(".veil-*"))


def test_batch_report_has_both_classifiers_and_colour_difference(tmp_path, surrogate, judge):
    source = tmp_path / "hen.jpg"
    source.write_bytes(encoded(real_image(PHOTOS[0]), "JPEG", quality=92))
    jobs, _ = plan_jobs([source], tmp_path / "out")
    protector = Protector(surrogate)
    (report,) = protect_batch(
        jobs, protector, ["pfgsm"], "low", profile="instagram", seed=3, judge=judge
    )
    assert report.ok, report.error
    sent = decode(jobs[0].target.read_bytes()).pixels
    assert report.record.label_after == surrogate.predict(sent).label
    after = judge.predict(sent)
    assert report.judge_after == {
        "index": after.index,
        "label": after.label,
        "confidence": round(after.confidence, 4),
    }
    assert report.judge_before["index"] == judge.predict(decode(source.read_bytes()).pixels).index
    assert report.judge_after_upload is not None
    assert 0 < report.record.ciede2000 < 10
    assert 0.8 < report.record.ssim <= 1
    path = tmp_path / "reports" / "hen.jpg.json"
    write_report(report, path)
    saved = json.loads(path.read_text())
    assert saved["judge_after"] == report.judge_after
    assert saved["strength"] == "low" and saved["profile"] == "instagram"
    assert saved["label_after"] == report.record.label_after  # the record's fields, flat


def test_batch_rejects_an_unknown_profile_before_touching_photos(photos, tmp_path, surrogate):
    jobs, _ = plan_jobs([photos], tmp_path / "out")
    with pytest.raises(ValueError, match="unknown platform profile"):
        protect_batch(jobs, Protector(surrogate), ["metadata"], profile="myspace")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("filters", "strength", "profile", "message"),
    [
        ([], "low", "none", "no filter given"),
        (["metadata", "sepia"], "low", "none", "unknown filter 'sepia'; known: metadata"),
        (["metadata"], "max", "none", "unknown strength 'max'"),
        (["metadata"], "low", "flickr", "unknown platform profile 'flickr'"),
    ],
)
def test_check_options_names_what_is_wrong(filters, strength, profile, message):
    with pytest.raises(ValueError, match=message):
        check_options(filters, strength, profile)
    check_options(["metadata"], "low", "none")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_lines_on_files_and_one_line_on_terminals():
    stream = io.StringIO()
    bar = ProgressBar(2, stream, width=10)
    bar.update("a.jpg")
    bar.update("b.jpg")
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("[#####-----] 1/2") and lines[0].endswith("a.jpg")
    assert lines[1].startswith("[##########] 2/2")
    terminal = _Terminal()
    bar = ProgressBar(2, terminal, width=4)
    bar.update("a")
    assert "\n" not in terminal.getvalue() and terminal.getvalue().startswith("\r")
    bar.update("b")
    assert terminal.getvalue().endswith("\n") and terminal.getvalue().count("\r") == 2

"""batch/bench.py and the modules beside it: the benchmark in quick mode, its parts."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from batch.bench import run_bench, steps
from batch.machine import MemorySampler
from batch.report import OUTPUT_FILES, markdown_table, write_outputs
from batch.results import BenchConfig, PhotoResult, summarise
from batch.samples import DEFAULT_DATA, BenchError, load_samples, parse_size, prepare_photo
from batch.upload import simulate_upload
from filters import Protector
from tests.conftest import IMAGENET_SAMPLE, TEST_DATA, imagenet_labels
from tests.photos import PHOTOS, encoded, opened, real_image

TINY = (160, 120)


def tiny_sample(folder: Path, names: tuple[str, ...] = PHOTOS[:2]) -> Path:
    """A benchmark folder of small real photos (tests/data) with their true labels."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(TEST_DATA / "labels.csv", newline="") as handle:
        labels = {row["file"]: row for row in csv.DictReader(handle)}
    with open(folder / "labels.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "class_index", "wnid", "name"])
        for name in names:
            file = f"{name}.jpg"
            (folder / file).write_bytes(encoded(real_image(name, TINY), "JPEG", quality=92))
            row = labels[file]
            writer.writerow([file, row["class_index"], row["wnid"], row["name"]])
    return folder


@pytest.mark.shared_data("imagenet-sample")
def test_default_data_is_the_shared_sample():
    assert DEFAULT_DATA.resolve() == IMAGENET_SAMPLE.resolve()
    samples = load_samples(DEFAULT_DATA, limit=3)
    assert [s.path.name for s in samples] == list(imagenet_labels())[:3]
    assert samples[0].class_index == imagenet_labels()[samples[0].path.name]


def test_load_samples_rejects_bad_folders(tmp_path):
    with pytest.raises(BenchError, match=r"no labels\.csv"):
        load_samples(tmp_path)
    (tmp_path / "labels.csv").write_text("file,class_index\nx.JPEG,seven\n")
    with pytest.raises(BenchError, match="line 2: malformed"):
        load_samples(tmp_path)
    (tmp_path / "labels.csv").write_text("file,class_index,wnid,name\nx.JPEG,7,n1,cock\n")
    with pytest.raises(BenchError, match="missing"):
        load_samples(tmp_path)
    with pytest.raises(BenchError, match="at least 1"):
        load_samples(DEFAULT_DATA, limit=0)


@pytest.mark.parametrize("text", ["-3", "0.1x5", "huge", "100MP", "10x10"])
def test_parse_size_rejects(text):
    with pytest.raises(BenchError):
        parse_size(text)


def test_prepare_photo_rescales_to_the_pixel_count(photo_file):
    assert prepare_photo(photo_file, None) == photo_file.read_bytes()
    data = prepare_photo(photo_file, parse_size("2MP"))
    with Image.open(photo_file) as original, Image.open(io.BytesIO(data)) as big:
        assert big.format == "JPEG"
        assert abs(big.width * big.height - 2_000_000) < 0.01 * 2_000_000
        assert abs(big.width / big.height - original.width / original.height) < 0.01


def _row(true: int, before: list[int], after: list[int], error=None, **record) -> PhotoResult:
    """A row whose protection record holds ``record``'s values."""
    row = PhotoResult("x.JPEG", true, "pfgsm", "low", "none", before, after, 1, 2, 1)
    row.record, row.error = record, error
    return row


def test_summarise_counts_what_the_rows_say():
    rows = [
        _row(
            1,
            [1, 2, 3, 4, 5],
            [7, 1, 8, 9, 0],
            ssim=0.9,
            ciede2000=2.0,
            elapsed_ms=100,
            ssimulacra2=85.0,
            platform_ssimulacra2=80.0,
            butteraugli=2.0,
        ),
        _row(
            2,
            [2, 3, 4, 5, 6],
            [2, 3, 4, 5, 6],
            ssim=1.0,
            ciede2000=1.0,
            elapsed_ms=300,
            ssimulacra2=70.0,
            platform_ssimulacra2=80.0,
            butteraugli=4.0,
        ),
        _row(
            3,
            [4, 3, 5, 6, 7],
            [8, 9, 10, 11, 12],
            ssim=0.8,
            ciede2000=3.0,
            elapsed_ms=200,
            ssimulacra2=90.0,
            platform_ssimulacra2=82.0,
            butteraugli=None,
        ),
        _row(4, [4], [], error="cannot decode"),
    ]
    rows[1].surrogate_after = rows[1].surrogate_before  # not fooled
    row = summarise(rows, ("pfgsm", "low", "none"), peak_mb=500.0)
    assert (row["photos"], row["errors"]) == (4, 1)
    assert row["judge_top1_original"] == pytest.approx(2 / 3, abs=1e-4)
    assert row["judge_top5_original"] == 1.0
    assert row["judge_top1_protected"] == pytest.approx(1 / 3, abs=1e-4)
    assert row["judge_top5_protected"] == pytest.approx(2 / 3, abs=1e-4)
    assert row["judge_fooled"] == 0.5  # of the two it had right, one is now wrong
    assert row["surrogate_fooled"] == pytest.approx(2 / 3, abs=1e-4)
    assert row["surrogate_fooled_after_upload"] == 0.0
    assert row["ssim"] == 0.9 and row["ciede2000"] == 2.0 and row["psnr"] is None
    assert row["ssimulacra2_median"] == 85.0 and row["ssimulacra2_p10"] == 73.0
    assert row["butteraugli_median"] == 3.0 and row["platform_ssimulacra2_median"] == 80.0
    assert row["more_visible_than_platform"] == pytest.approx(1 / 3, abs=1e-4)
    assert row["time_ms_median"] == 200 and row["time_ms_p90"] == 280
    table = markdown_table([row, {**row, "profile": "facebook"}]).splitlines()
    assert len(table) == 4 and all(line.count("|") == table[0].count("|") for line in table)
    assert "| pfgsm | low | facebook | 3/4 | 66.7% → 33.3% |" in table[3]


def test_memory_sampler_sees_a_large_allocation():
    with MemorySampler() as memory:
        start = MemorySampler.rss_mb()
        block = np.ones(200 * 2**20, np.uint8)
        time.sleep(0.1)  # samples come every 10 ms; numpy holds the GIL while it fills
        del block
    assert memory.peak_mb >= start + 150


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"strengths": ("extreme",)}, "strengths must be among"),
        ({"profiles": ("myspace",)}, "profiles must be among"),
        ({"filters": ()}, "no filter"),
        ({"sheet_photos": -1}, "sheet-photos"),
    ],
)
def test_run_bench_rejects_bad_options(tmp_path, surrogate, change, message):
    config = BenchConfig(("metadata",), ("low",), data=tmp_path)
    with pytest.raises(BenchError, match=message):
        run_bench(dataclasses.replace(config, **change), Protector(surrogate), None)


def test_quick_bench_end_to_end(tmp_path, surrogate, judge):
    """Quick mode: two small photos, one filter, one strength, one profile."""
    data = tiny_sample(tmp_path / "data")
    config = BenchConfig(("pfgsm",), ("low",), ("instagram",), data=data, sheet_photos=2)
    labels: list[str] = []
    run = run_bench(config, Protector(surrogate), judge, progress=labels.append)
    assert len(labels) == steps(config, 2) == 2 == len(run.photos)
    for photo in run.photos:
        assert photo.error is None, photo.error
        original = (data / photo.file).read_bytes()
        uploaded = simulate_upload(np.asarray(opened(original).convert("RGB")), "instagram")
        assert photo.judge_before == judge.topk(uploaded)
        assert photo.surrogate_before == surrogate.predict(np.asarray(opened(original))).index
        assert len(photo.judge_after) == 5 and photo.surrogate_after is not None
        # The filter changed the pixels, and the figures say by how much.
        measure = photo.measure
        assert measure("psnr") is not None and 0 < measure("ciede2000") < 10
        assert 0.8 < measure("ssim") < 1 and measure("elapsed_ms") > 0
        # Visibility beside the platform's own JPEG (instagram: quality 70).
        assert 0 < measure("ssimulacra2") < 100 and 0 < measure("platform_ssimulacra2") < 100
        assert measure("visibility")
    (row,) = run.summary
    assert (row["profile"], row["photos"], row["errors"]) == ("instagram", 2, 0)
    fooled = [p.surrogate_after != p.surrogate_before for p in run.photos]
    assert row["surrogate_fooled"] == sum(fooled) / 2
    assert row["peak_rss_mb"] > 100

    paths = write_outputs(run, tmp_path / "out")
    assert [path.name for path in paths] == list(OUTPUT_FILES)
    saved = json.loads(paths[0].read_text())
    assert saved["summary"] == run.summary and len(saved["photos"]) == 2
    assert saved["config"]["data"] == str(data)
    assert "| pfgsm | invisible | instagram | 2/2 |" in paths[1].read_text()  # "low", renamed
    for path in paths[2:]:
        with Image.open(path) as image:
            assert image.format == "PNG"
    with Image.open(paths[4]) as sheet:
        assert sheet.width == 2 * 200 and sheet.height > 2 * 200  # original + 1 configuration
    with Image.open(paths[5]) as crops:  # 1x and 2x rows per photo, original + 1 configuration
        assert crops.width == 2 * (120 + 4) and crops.height > 4 * 120

"""report.html: self-contained, offline, the run's data inside, user strings escaped."""

import json
import re

import numpy as np
import pytest

import aelab
from aelab.cli import main
from aelab.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from aelab.outputs.reportdata import decode

FAST = TrainConfig(pretrain_steps=100, finetune_steps=150, snapshot_every=50)


def _data(page: str) -> dict:
    block = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S)
    assert block is not None
    return json.loads(block.group(1))


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    result = aelab.run(RunConfig(train=FAST), out=tmp_path_factory.mktemp("runs"), name="r")
    return result, (result.run_dir / "report.html").read_text(encoding="utf-8")


def test_every_run_writes_a_report_with_its_data(report):
    result, page = report
    assert result.figures["report"] == result.run_dir / "report.html"
    data = _data(page)
    assert data["classes"] == ["setosa", "versicolor", "virginica"]
    assert len(data["samples"]["index"]) == 150 and sum(data["samples"]["train"]) == 75
    names = [s["name"] for s in data["stages"]]
    assert names == ["pretrained", "supervised", "finetune", "finetune-recon", "joint"]
    frames = decode(data["stages"][-1]["frames"], data["box"])
    span = np.ptp(np.asarray(data["box"]), axis=1)
    np.testing.assert_allclose(frames[-1], result.codes["joint"], atol=span.max() / 60_000)
    assert data["stages"][1]["steps"][-1] == 150
    assert set(data["regions"]) == {"supervised", "finetune", "finetune-recon", "joint"}
    assert "held-out accuracy" in page and "r</h1>" in page


def test_the_page_makes_no_request(report):
    _, page = report
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<link" not in page and not re.search(r"<script[^>]*\bsrc=", page)
    assert "@import" not in page and "url(" not in page
    assert "default-src 'none'" in page  # and the browser is told to refuse any request


def test_hostile_names_are_text(tmp_path):
    rows = ["a,b,kind"] + [
        f"{i},{i % 7},{'<script>alert(1)</script>' if i % 2 else 'x&y'}" for i in range(40)
    ]
    path = tmp_path / "evil<b>.csv"
    path.write_text("\n".join(rows) + "\n")
    config = RunConfig(strategies=("joint",), data=DataConfig(dataset=str(path)), train=FAST)
    result = aelab.run(config, out=tmp_path / "runs", name="evil")
    page = (result.run_dir / "report.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in page
    assert "evil<b>" not in page and "evil&lt;b&gt;.csv" in page
    assert "<script>alert(1)</script>" in _data(page)["classes"]  # the name, intact as data


def test_report_command_rewrites_and_refuses_other_folders(report, tmp_path, capsys):
    result, page = report
    (result.run_dir / "report.html").unlink()
    with pytest.raises(SystemExit) as info:
        main(["report", str(result.run_dir)])
    assert info.value.code == 0
    assert (result.run_dir / "report.html").read_text(encoding="utf-8") == page
    with pytest.raises(SystemExit) as info:
        main(["report", str(tmp_path)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "is neither a run folder" in err and err.count("\n") == 1


def test_a_sweep_gets_a_report(tmp_path):
    from aelab.config import SweepConfig
    from aelab.outputs.sweepdir import sweep

    grid = SweepConfig(
        base=RunConfig(strategies=("supervised", "joint"), train=FAST), seeds=(0, 1),
        baselines=False,
    )  # fmt: skip
    result = sweep(grid, out=tmp_path, name="s")
    page = (result.sweep_dir / "report.html").read_text(encoding="utf-8")
    assert "aelab sweep: s" in page and "Gain over supervised" in page
    assert "data:image/png;base64," in page


def test_an_animation_of_the_code_moving(tmp_path):
    from PIL import Image, ImageChops

    config = RunConfig(strategies=("finetune", "joint"), train=FAST)
    result = aelab.run(config, out=tmp_path, name="a", animation=True)
    gif = result.figures["animation"]
    assert gif == result.run_dir / "animation.gif"
    with Image.open(gif) as image:
        # 3 pretraining snapshots (0, 50, 100) + 4 fine-tuning (0, 50, 100, 150) + 8 frames
        # resting on the end, 120 ms each (Pillow merges identical frames, adding durations)
        durations = []
        for k in range(image.n_frames):
            image.seek(k)
            durations.append(image.info["duration"])
        assert sum(durations) == (3 + 4 + 8) * 120 and image.n_frames >= 5
        image.seek(0)
        first = image.convert("RGB")
        image.seek(image.n_frames - 1)
        last = image.convert("RGB")
        assert image.size == (3 * 234 + 14, 260)
    assert ImageChops.difference(first, last).getbbox() is not None  # the code moved


def test_report_command_animation_needs_a_run(report, tmp_path, capsys):
    from aelab.config import SweepConfig
    from aelab.outputs.sweepdir import sweep

    result, _ = report
    with pytest.raises(SystemExit) as info:
        main(["report", str(result.run_dir), "--animation"])
    assert info.value.code == 0 and (result.run_dir / "animation.gif").is_file()
    grid = SweepConfig(base=RunConfig(strategies=("joint",), train=FAST), seeds=(0,),
                       baselines=False)  # fmt: skip
    done = sweep(grid, out=tmp_path, name="s")
    with pytest.raises(SystemExit) as info:
        main(["report", str(done.sweep_dir), "--animation"])
    assert info.value.code == 2 and "--animation needs a run folder" in capsys.readouterr().err


@pytest.mark.skipif(__import__("shutil").which("ffmpeg") is None, reason="ffmpeg not installed")
def test_an_mp4_comes_with_the_gif_when_ffmpeg_is_there(report):
    import subprocess

    from aelab.outputs.animation import write_animation

    result, _ = report
    paths = write_animation(result.run_dir)
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=width,height", "-of", "csv=p=0",
         str(paths["animation_mp4"])],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert probe.stdout.strip() == "1184,260"  # the GIF's size, to an even number of pixels


def test_the_page_data_is_compact_and_its_curves_are_the_runs(report):
    result, page = report
    block = re.search(r'id="data">(.*?)</script>', page, re.S).group(1)
    assert not re.search(r"\d\.\d{9,}", block)  # no float32 widened to 17 digits
    data = _data(page)
    cka = data["cka"]
    assert cka["steps"] == [0, 50, 100, 150]
    for name, curve in cka["stages"].items():  # the last snapshot is the final code
        assert curve[-1] == pytest.approx(
            result.metrics["strategies"][name]["cka_to_pretrained"], abs=2e-3
        )
    assert cka["stages"]["finetune"][0] == pytest.approx(
        1.0, abs=1e-3
    )  # starts at the pretrained code
    history = data["history"]
    assert history["fields"][:2] == ["loss", "cross_entropy"]
    assert history["stages"]["pretrained"]["steps"][-1] == 100
    assert len(history["stages"]["joint"]["values"][0]) == 150
    # Iris's two features of the largest variance: petal length (3.1 cm²), sepal length (0.68)
    assert [a.split(" ")[:2] for a in data["raw"]["axes"]] == [
        ["sepal", "length"],
        ["petal", "length"],
    ]


def test_the_digits_page_keeps_its_data_within_budget(tmp_path):
    """The issue's worst case (digits, a 10-unit code, five stages, many snapshots): its
    embedded data stays at most 1.5 MB, every sample drawn, with the snapshots it can afford."""
    train = TrainConfig(pretrain_steps=30, finetune_steps=30, snapshot_every=1)  # 31 snapshots
    config = RunConfig(data=DataConfig(dataset="digits"), model=ModelConfig(code=10), train=train)
    result = aelab.run(config, out=tmp_path, name="d")
    page = (result.run_dir / "report.html").read_text(encoding="utf-8")
    block = re.search(r'id="data">(.*?)</script>', page, re.S).group(1)
    assert len(block.encode()) <= 1_500_000
    data = _data(page)
    assert data["shown"] == data["total"] == 1797
    assert all(len(s["steps"]) >= 8 for s in data["stages"])
    assert data["raw"]["axes"] != ["pixel_0_0", "pixel_0_1"]  # not the constant border

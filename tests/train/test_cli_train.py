"""``framescope train``: bad input gives one line and exit code 1 (missing config, unknown key,
missing data file, a bad row with its file:line, the wrong trainer, nothing to resume)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from framescope.cli import main

from .conftest import CONFIGS

SFT = str(CONFIGS / "synth_dynframe_sft.yaml")


def fails(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("framescope: error: ")
    return err


def test_bad_input(world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = f"output_dir={tmp_path / 'out'}"
    assert "no such config file" in fails(["train", "sft", "--config", "nope.yaml"], capsys)
    err = fails(["train", "sft", "--config", SFT, "--set", "optim.lrr=1"], capsys)
    assert "unknown key optim.lrr (did you mean optim.lr?)" in err
    err = fails(["train", "sft", "--config", SFT, "--set", f"data.root={tmp_path}", out], capsys)
    assert f"{tmp_path}/dynframe/dm_cot.json: no such file" in err
    assert "--config PATH is required" in fails(["train", "sft"], capsys)
    err = fails(["train", "sft", "--resume", str(tmp_path / "none")], capsys)
    assert "no such checkpoint" in err
    err = fails(["train", "grpo", "--config", SFT, "--set", f"data.root={world}", out], capsys)
    assert "framescope train sft" in err


def test_bad_row_is_named_by_file_and_line(
    world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = json.loads((world / "dynframe/dm_cot.json").read_text())
    bad = json.loads(json.dumps(rows[1]))
    bad["conversations"][1]["value"] = bad["conversations"][1]["value"].replace("<video>", "", 1)
    path = tmp_path / "cot.json"
    path.write_text("[\n" + ",\n".join(json.dumps(r) for r in [rows[0], bad]) + "\n]\n")
    sets = [f"data.root={world}", f"data.files=[{path}]", f"output_dir={tmp_path / 'o'}"]
    err = fails(["train", "sft", "--config", SFT, "--set", *sets], capsys)
    assert f"{path}:3:" in err and "tag(s)" in err
    # a row whose video is missing is only found when its sequence is built: still file:line
    gone = json.loads(json.dumps(rows[0]))
    gone["video"] = ["videos/missing.mp4"]
    path.write_text(json.dumps([gone]))
    err = fails(
        ["train", "sft", "--config", SFT, "--set", *sets, "optim.global_batch_size=1"], capsys
    )
    assert f"{path}:1:" in err and "missing.mp4" in err

"""`framescope probe` and `framescope sample` end to end, in a real subprocess where the exit path matters."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from framescope.cli import main
from framescope.video.encode import read_index


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "framescope.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_probe_prints_json(cfr_video, capsys):
    assert main(["probe", str(cfr_video), "--timestamps"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["frame_count"] == 90 and out["duration"] == pytest.approx(3.0)
    assert len(out["frame_timestamps"]) == 90 and out["has_audio"] is True


def test_sample_writes_frames_in_time_order(long_gop_video, tmp_path, capsys):
    out = tmp_path / "frames"
    code = main(
        [
            "sample",
            str(long_gop_video),
            "--start",
            "6.5",
            "--end",
            "10.5",
            "--fps",
            "2",
            "--native",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    times = json.loads((out / "timestamps.json").read_text())
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == len(times) == 8 and times == sorted(times)
    # each PNG is the frame shown at its listed time (frames carry their index; 25 fps)
    assert [read_index(np.asarray(Image.open(p))) for p in pngs] == [round(t * 25) for t in times]
    assert "8 frames 96x64 from 6.50–10.50 s" in capsys.readouterr().out


def test_sample_caps_and_budget(long_gop_video, tmp_path, capsys):
    out = tmp_path / "capped"
    assert (
        main(
            [
                "sample",
                str(long_gop_video),
                "--fps",
                "10",
                "--max-frames",
                "6",
                "--family",
                "qwen3_vl",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "6 frames" in text and "note: frame count capped at max_frames=6 (asked 200)" in text
    w, h = Image.open(next(out.glob("*.png"))).size
    assert w % 32 == 0 and h % 32 == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["probe", "{missing}"], "no such file"),
        (["probe", "{not_a_video}"], "not a readable media file"),
        (["probe", "{empty}"], "empty file (0 bytes)"),
        (["probe", "{audio}"], "no video stream (streams: audio)"),
        (
            ["sample", "{cfr}", "--start", "2", "--end", "1", "--fps", "1", "--out", "{out}"],
            "is after its end",
        ),
        (
            ["sample", "{cfr}", "--start", "9", "--end", "12", "--fps", "1", "--out", "{out}"],
            "lies outside the video",
        ),
        (["sample", "{cfr}", "--fps", "nan", "--out", "{out}"], "fps must be a number"),
        (["sample", "{cfr}", "--fps", "0", "--out", "{out}"], "fps must be a number"),
        (["sample", "{truncated}", "--fps", "2", "--out", "{out}"], "cannot decode"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(
    args, message, tmp_path, cfr_video, not_a_video, empty_file, audio_only, truncated_video
):
    paths = {
        "missing": tmp_path / "missing.mp4",
        "not_a_video": not_a_video,
        "empty": empty_file,
        "audio": audio_only,
        "cfr": cfr_video,
        "truncated": truncated_video,
        "out": tmp_path / "out",
    }
    proc = run_cli(*[a.format(**paths) for a in args])
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("framescope: error: ") and message in lines[0]
    assert "Traceback" not in proc.stderr


def test_usage_errors_exit_2(cfr_video):
    proc = run_cli("sample", str(cfr_video), "--out", "x")  # neither --fps nor --num-frames
    assert (
        proc.returncode == 2
        and "one of the arguments --fps --num-frames is required" in proc.stderr
    )

"""The synthetic world's three tasks and ``framescope score`` end to end."""

from __future__ import annotations

import json

import pytest

from framescope.cli import main
from framescope.errors import MissingFileError
from framescope.eval.score import format_table, score


@pytest.fixture
def world(tmp_path, dump):
    root = tmp_path / "world"
    (root / "charades_sta").mkdir(parents=True)
    (root / "charades_sta" / "charades_sta_test.txt").write_text(
        "synth_000 2.00 6.00##the red circle bounces.\nsynth_000 8.00 9.00##the square stops.\n"
    )
    (root / "nextgqa").mkdir()
    (root / "nextgqa" / "test.csv").write_text(
        "video_id,frame_count,width,height,question,answer,qid,type,a0,a1,a2,a3,a4\n"
        "synth_000,300,320,240,what happens after,it stops,0,TN,it stops,it jumps,it spins,it grows,it fades\n"
    )
    dump(
        root / "nextgqa" / "gsub_test.json",
        {"synth_000": {"duration": 30.0, "location": {"0": [[4.0, 8.0]]}, "fps": 10}},
    )
    dump(
        root / "videomme" / "test.json",
        [
            {
                "video_id": "001",
                "duration": "short",
                "domain": "Synthetic",
                "sub_category": "Shapes",
                "url": "videos/synth_000.mp4",
                "videoID": "synth_000",
                "question_id": "001-1",
                "task_type": "Counting Problem",
                "question": "How many?",
                "options": ["A. 1", "B. 2", "C. 3", "D. 4"],
                "answer": "C",
            }
        ],
    )
    return root


@pytest.fixture
def world_preds(tmp_path, jsonl):
    return jsonl(
        tmp_path / "preds.jsonl",
        [
            {"id": "charades_sta/synth_000#0", "windows": [[2, 6]]},
            {"id": "charades_sta/synth_000#1", "response": "<answer>8.5 - 9.0</answer>"},
            {"id": "nextgqa/synth_000_0", "windows": [[4, 6]], "answer": "A"},
            {"id": "videomme/001-1", "response": "The best answer is C."},
            {"id": "stray", "answer": "A"},
        ],
    )


def test_synth_reports_all_three_tasks(world, world_preds):
    r = score("synth", [world], [world_preds])
    assert r.metrics["charades_sta/R1@0.5"] == pytest.approx(100.0)
    assert r.metrics["charades_sta/mIoU"] == pytest.approx(75.0)
    assert r.metrics["nextgqa/mIoP"] == pytest.approx(100.0)
    assert r.metrics["nextgqa/mIoU"] == pytest.approx(50.0)
    assert r.metrics["nextgqa/Acc@GQA"] == pytest.approx(100.0)
    assert r.metrics["videomme/Overall"] == pytest.approx(100.0)
    assert any("without a task prefix" in n for n in r.notes)
    assert "nextgqa" in r.breakdowns and "videomme" in r.breakdowns
    assert "charades_sta/R1@0.5" in format_table(r)


def test_synth_says_which_file_is_missing(world, world_preds):
    (world / "nextgqa" / "gsub_test.json").unlink()
    with pytest.raises(MissingFileError, match=r"synth: expected .*nextgqa/gsub_test.json"):
        score("synth", [world], [world_preds])


def test_cli_scores_and_writes_json(world, world_preds, tmp_path, capsys):
    out = tmp_path / "out" / "metrics.json"
    rc = main(
        [
            "score",
            "synth",
            "--annotations",
            str(world),
            "--predictions",
            str(world_preds),
            "--output",
            str(out),
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "videomme/Overall" in printed and "metrics:" in printed
    data = json.loads(out.read_text())
    assert data["benchmark"] == "synth" and data["compat"] is None
    assert data["metrics"]["videomme/Overall"] == pytest.approx(100.0)
    assert data["annotations"] == [str(world)]


def test_cli_compat_flag(world, world_preds, capsys):
    rc = main(
        [
            "score",
            "synth",
            "--annotations",
            str(world),
            "--predictions",
            str(world_preds),
            "--compat",
            "videomind",
        ]
    )
    assert rc == 0
    assert "compat videomind" in capsys.readouterr().out


def test_cli_errors_are_one_line(tmp_path, world_preds, capsys):
    bad = tmp_path / "charades_sta_test.txt"
    bad.write_text("vid 0 1##ok\nvid x 1##bad\n")
    rc = main(
        ["score", "charades_sta", "--annotations", str(bad), "--predictions", str(world_preds)]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 1
    assert err.count("\n") == 0 and "charades_sta_test.txt:2:" in err
    rc = main(
        [
            "score",
            "charades_sta",
            "--annotations",
            str(tmp_path / "nope"),
            "--predictions",
            str(world_preds),
        ]
    )
    assert rc == 1 and "does not exist" in capsys.readouterr().err


def test_cli_help_lists_every_benchmark(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["score", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for name in (
        "charades_sta",
        "activitynet",
        "qvhighlights",
        "nextgqa",
        "rextime",
        "cgbench",
        "videomme",
        "mlvu",
        "lvbench",
        "synth",
    ):
        assert f"{name}:" in text
    assert "--compat" in text


def test_score_subset_rescores_a_limited_run(world, tmp_path, jsonl, capsys):
    """An ``eval --limit`` run's records cover some samples: plain scoring refuses them (the
    official script would), ``--subset`` scores those samples and says so."""
    preds = jsonl(tmp_path / "part.jsonl", [{"id": "synth_000#1", "windows": [[8, 9]]}])
    args = ["score", "charades_sta", "--annotations", str(world / "charades_sta")]
    args += ["--predictions", str(preds)]
    assert main(args) == 1
    assert "1 of 2 samples have no prediction" in capsys.readouterr().err
    assert main([*args, "--subset"]) == 0
    printed = capsys.readouterr().out
    assert "a subset: only the 1 samples with a prediction (--subset)" in printed
    result = score("charades_sta", [world / "charades_sta"], [preds], subset=True)
    assert result.metrics["R1@0.7"] == pytest.approx(100.0) and result.counts["queries"] == 1

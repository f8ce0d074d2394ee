"""Training rows with the evaluation prompts, and verifier rows from a grounder's predictions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from framescope.data import read_dm_cot, read_dm_rl, read_verifier
from framescope.data.synth_eval import (
    DM_COT_EVAL,
    DM_RL_EVAL,
    verifier_rows,
    write_eval_prompt_rows,
)
from framescope.eval.benchmarks.synth import SYNTH
from framescope.retrieval.loop import prompt_text
from framescope.synth import generate_world
from framescope.types import Prediction, Window


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world")
    generate_world(out, seed=5, num_videos=2, duration=(16, 17), size=(160, 120))
    write_eval_prompt_rows(out)
    return out


def test_rows_carry_exactly_the_prompts_eval_gives(world: Path) -> None:
    shown = {prompt_text(it.sample) for it in SYNTH.items(SYNTH.load([world]), SYNTH.videos(world))}
    cot = read_dm_cot(world / DM_COT_EVAL, data_root=world).records
    rl = read_dm_rl(world / DM_RL_EVAL, data_root=world).records
    old = read_dm_cot(world / "dynframe/dm_cot.json", data_root=world).records
    assert len(cot) == len(rl) == len(old)
    for new, before, row in zip(cot, old, rl):
        assert new.question.removeprefix("<video>\n") in shown
        assert row.prompt.removeprefix("<video>\n") in shown
        assert new.segments == before.segments  # the assistant turns are untouched
    # grounding prompts were already the same; the others changed
    assert sum(a.question != b.question for a, b in zip(cot, old)) > 0


def test_verifier_rows_from_predictions(world: Path, tmp_path: Path) -> None:
    grounder = [
        json.loads(x) for x in (world / "videomind/grounder.jsonl").read_text().splitlines()
    ]
    from framescope.eval.benchmarks.moment_retrieval import load_charades

    samples = load_charades(world / "charades_sta/charades_sta_test.txt")
    preds = tmp_path / "predictions.jsonl"
    lines = []
    for s, g in zip(samples[1:], grounder[1:]):  # the first query failed: no record
        ((start, end),) = g["span"]
        windows = [Window(start, end), Window(start + 5, end + 5)]
        lines.append(json.dumps(Prediction(s.id, windows=windows).to_dict()))
    preds.write_text("\n".join(lines) + "\n")
    rows = verifier_rows(world, preds)
    assert len(rows) == len(grounder) - 1 and rows[0]["query"] == grounder[1]["query"]
    out = tmp_path / "verifier.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    records = read_verifier(out, data_root=world).records
    assert [r.label for r in records[:2]] == ["Yes", "No"]

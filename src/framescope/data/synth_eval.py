"""Training rows derived from a synthetic world for the reproduction (docs/reproduction.md).

DynFrame rows with the prompts ``framescope eval synth`` gives, and VideoMind verifier rows from
a grounder's own predictions (:func:`verifier_rows`).

The world's own DM-CoT / DM-RL rows (``dynframe/dm_cot.json``, ``dynframe/dm_rl.jsonl``) ask
grounded-QA and multiple-choice questions with DynFrame's layout (question, options, "Please
answer with the option's letter."), while ``framescope eval synth`` gives each task its
benchmark's prompt (:mod:`framescope.eval.prompts`: NExT-GQA's grounded-QA instruction,
Video-MME's multiple-choice instruction; moment retrieval is the same text in both). A large
pretrained model reads either; a model trained from scratch on the synthetic world knows only the
prompts it was trained on. :func:`write_eval_prompt_rows` writes the same rows — same videos,
same assistant turns, same answers and spans — with the user turn replaced by exactly the text the
evaluation runtime shows (the benchmark item's prompt and options, laid out by
:func:`framescope.retrieval.loop.prompt_text`), so a model is trained on the prompts it is
evaluated on:

    WORLD/dynframe/dm_cot_eval.json     # DM-CoT rows, evaluation prompts
    WORLD/dynframe/dm_rl_eval.jsonl     # DM-RL rows, evaluation prompts
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from framescope.errors import RecordError
from framescope.eval.benchmarks.layout import EvalItem
from framescope.eval.benchmarks.synth import SYNTH
from framescope.fileio import atomic_write_text, write_json
from framescope.retrieval.loop import prompt_text

DM_COT_EVAL = "dynframe/dm_cot_eval.json"
DM_RL_EVAL = "dynframe/dm_rl_eval.jsonl"
VIDEO_TAG = "<video>\n"


def _item_key(item: EvalItem) -> tuple[str, ...]:
    task, _, ident = item.id.partition("/")
    if task == "charades_sta":
        return (task, Path(item.sample.video).stem, item.sample.question.rstrip("."))
    return (task, ident)


def _task_key(video_id: str, task: dict[str, Any]) -> tuple[str, ...]:
    if task["kind"] == "moment_retrieval":
        return ("charades_sta", video_id, task["question"])
    if task["kind"] == "grounded_qa":
        return ("nextgqa", f"{video_id}_{task['qid']}")
    return ("videomme", str(task["qid"]))


def eval_prompts(world: str | os.PathLike[str]) -> list[str]:
    """The user text ``framescope eval synth`` shows for each task of ``world``, in the order of
    the world's DM-CoT and DM-RL rows (``<video>\\n`` first, where the prompt video goes)."""
    root = Path(world)
    data = SYNTH.load([root])
    items = {_item_key(it): it for it in SYNTH.items(data, SYNTH.videos(root))}
    manifest = json.loads((root / "world.json").read_text(encoding="utf-8"))
    prompts = []
    for video in manifest["videos"]:
        for task in video["tasks"]:
            key = _task_key(video["video_id"], task)
            if key not in items:
                raise RecordError(f"task {task['task_id']} has no evaluation item {key}", str(root))
            prompts.append(VIDEO_TAG + prompt_text(items[key].sample))
    return prompts


def write_eval_prompt_rows(world: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write :data:`DM_COT_EVAL` and :data:`DM_RL_EVAL` into ``world`` (see the module
    docstring); returns their paths."""
    root = Path(world)
    prompts = eval_prompts(root)
    cot = json.loads((root / "dynframe" / "dm_cot.json").read_text(encoding="utf-8"))
    rl = [
        json.loads(line)
        for line in (root / "dynframe" / "dm_rl.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    if not len(cot) == len(rl) == len(prompts):
        raise RecordError(
            f"{len(cot)} DM-CoT rows, {len(rl)} DM-RL rows, {len(prompts)} tasks: not one world",
            str(root),
        )
    for row, prompt in zip(cot, prompts):
        row["conversations"][0]["value"] = prompt
    for row, prompt in zip(rl, prompts):
        row["prompt"] = prompt
    cot_path = write_json(root / DM_COT_EVAL, cot)
    rl_path = atomic_write_text(
        root / DM_RL_EVAL, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rl)
    )
    return cot_path, rl_path


def verifier_rows(
    world: str | os.PathLike[str], predictions: str | os.PathLike[str]
) -> list[dict[str, Any]]:
    """VideoMind verifier rows (``{video_path, duration, query, span, pred}``, the format
    :func:`framescope.data.read_verifier` reads) from a grounder's own predictions on the world's
    moment-retrieval queries — the ``predictions.jsonl`` of ``framescope eval synth`` or
    ``framescope eval charades_sta`` run on ``world`` with that grounder. ``pred`` is the
    prediction's ranked windows; queries without a prediction (a failed sample) are left out."""
    from framescope.eval.benchmarks.moment_retrieval import load_charades
    from framescope.eval.files import read_predictions

    root = Path(world)
    samples = load_charades(root / "charades_sta" / "charades_sta_test.txt")
    grounder = [
        json.loads(line)
        for line in (root / "videomind" / "grounder.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    if len(samples) != len(grounder):
        raise RecordError(
            f"{len(samples)} Charades-STA queries but {len(grounder)} grounder rows", str(root)
        )
    preds, _ = read_predictions(Path(predictions))
    out = []
    for sample, row in zip(samples, grounder):
        if Path(row["video_path"]).stem != sample.video or row["query"] != sample.question.rstrip(
            "."
        ):
            raise RecordError(f"grounder row {row['query']!r} is not query {sample.id}", str(root))
        pred = preds.get(sample.id) or preds.get(f"charades_sta/{sample.id}")
        if pred is None or not pred.windows:
            continue
        out.append({**row, "pred": [[w.start, w.end] for w in pred.windows]})
    return out

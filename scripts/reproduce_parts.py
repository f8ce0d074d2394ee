"""The pieces of ``scripts/reproduce.py`` that are not commands: worlds, derived rows, the
baselines, the report (tables with confidence intervals, plots) and shipping the default model.

Numbers come only from the runs' own files: ``metrics.jsonl`` of every training run and
``metrics.json`` / ``predictions.jsonl`` of every ``framescope eval``. Baselines are scored by
the same rules (framescope's Charades-STA scorer; option accuracy as Video-MME counts it).
"""

from __future__ import annotations

import json
import math
import shutil
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571}  # t(0.975, n-1) for n = 2..6


# ---------------------------------------------------------------------------- data


def make_world(folder: Path, seed: int, num_videos: int, duration: tuple[int, int]) -> None:
    """A synthetic world plus its rows with the evaluation prompts."""
    from framescope.data.synth_eval import write_eval_prompt_rows
    from framescope.synth import generate_world

    generate_world(folder, seed=seed, num_videos=num_videos, duration=duration, overwrite=True)
    write_eval_prompt_rows(folder)


def fixed_fps(world: Path) -> float:
    """The fixed-density arm's fps: the frames the own-density training rows fetch per second
    of requested window, ``sum(span * fps) / sum(span)`` — the same frame budget for the same
    windows. Rounded to 0.5 fps."""
    rows = [json.loads(x) for x in (world / "dynframe" / "dm_rl.jsonl").read_text().splitlines()]
    span = sum(r["gt_span_end"] - r["gt_span_start"] for r in rows)
    frames = sum((r["gt_span_end"] - r["gt_span_start"]) * r["fps"] for r in rows)
    return round(2 * frames / span) / 2


def verifier_data(world: Path, predictions: Path, out: Path) -> None:
    from framescope.data.synth_eval import verifier_rows
    from framescope.fileio import atomic_write_text

    rows = verifier_rows(world, predictions)
    atomic_write_text(out, "".join(json.dumps(r) + "\n" for r in rows))


# ---------------------------------------------------------------------------- ground truth


def tasks_by_eval_id(world: Path) -> dict[str, dict[str, Any]]:
    """World tasks keyed by the ids ``framescope eval charades_sta|videomme`` give them."""
    from framescope.eval.benchmarks.moment_retrieval import load_charades

    manifest = json.loads((world / "world.json").read_text())
    out: dict[str, dict[str, Any]] = {}
    mr = []
    for video in manifest["videos"]:
        events = {e["id"]: e for e in video["events"]}
        for t in video["tasks"]:
            t = {**t, "video": video, "event_list": [events[i] for i in t["events"]]}
            if t["kind"] == "moment_retrieval":
                mr.append(t)
            elif t["kind"] == "multiple_choice":
                out[str(t["qid"])] = t
    samples = load_charades(world / "charades_sta" / "charades_sta_test.txt")
    for s, t in zip(samples, mr):
        assert s.query.rstrip(".") == t["question"], (s, t["question"])
        out[s.id] = t
    return out


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 and a[1] > a[0] else 0.0


# ---------------------------------------------------------------------------- per-eval numbers


def eval_numbers(folder: Path, tasks: dict[str, dict[str, Any]]) -> dict[str, float]:
    """The numbers of one ``framescope eval`` folder: its official metrics plus what the traces
    say (frames, requests)."""
    metrics = json.loads((folder / "metrics.json").read_text())["metrics"]
    preds = read_jsonl(folder / "predictions.jsonl")
    out: dict[str, float] = {}
    if "R1@0.5" in metrics:
        out["R1@0.5"] = metrics["R1@0.5"]
        out["mIoU"] = metrics["mIoU"]
    else:
        out["MC acc"] = metrics["Overall"]
        out["counting acc"] = metrics.get("Task Categories/Counting Problem", float("nan"))
    frames, fetched, formed, req_iou = [], [], [], []
    for p in preds:
        trace = p.get("trace") or {}
        usage = trace.get("usage") or {}
        frames.append(usage.get("frames", 0))
        ev = trace.get("evidence") or []
        fetched.append(sum(e.get("frames", 0) for e in ev))
        formed.append(1.0 if ev and not trace.get("rejected") else 0.0)
        task = tasks.get(p["id"])
        if task is not None and ev and ev[0].get("window"):
            req_iou.append(max(iou(ev[0]["window"], w) for w in task["windows"]))
        elif task is not None:
            req_iou.append(0.0)
    out["frames/question"] = float(np.mean(frames)) if frames else 0.0
    out["fetched frames"] = float(np.mean(fetched)) if fetched else 0.0
    out["well-formed requests %"] = 100 * float(np.mean(formed)) if formed else 0.0
    out["request IoU"] = 100 * float(np.mean(req_iou)) if req_iou else 0.0
    out["questions"] = len(preds)
    return out


def mean_ci(values: Sequence[float]) -> str:
    vals = [v for v in values if not math.isnan(v)]
    if not vals:
        return "—"
    m = statistics.fmean(vals)
    if len(vals) == 1:
        return f"{m:.1f} (1 seed)"
    half = T95.get(len(vals) - 1, 1.96) * statistics.stdev(vals) / math.sqrt(len(vals))
    return f"{m:.1f} ± {half:.1f}"


# ---------------------------------------------------------------------------- baselines


def moment_baselines(train: Path, test: Path) -> dict[str, dict[str, float]]:
    """Moment-retrieval baselines on the test world (percent): the whole video, the best constant
    span (fitted on the training world), the query-blind observer (an event of the right kind on a
    random object, in expectation) and chance (a uniformly random window, in expectation)."""
    tasks = [t for t in tasks_by_eval_id(test).values() if t["kind"] == "moment_retrieval"]
    train_tasks = [t for t in tasks_by_eval_id(train).values() if t["kind"] == "moment_retrieval"]

    def scored(windows: list[list[float]], truth: list[dict[str, Any]]) -> dict[str, float]:
        ious = [max(iou(w, g) for g in t["windows"]) for w, t in zip(windows, truth)]
        return {
            "R1@0.5": 100 * float(np.mean([x >= 0.5 for x in ious])),
            "mIoU": 100 * float(np.mean(ious)),
        }

    out = {"whole video": scored([[0.0, t["video"]["duration"]] for t in tasks], tasks)}
    best, best_score = (0.5, 0.2), -1.0
    for c in np.linspace(0.05, 0.95, 19):
        for length in np.linspace(0.05, 0.9, 18):
            wins = [
                [
                    max(0.0, (c - length / 2) * t["video"]["duration"]),
                    min(t["video"]["duration"], (c + length / 2) * t["video"]["duration"]),
                ]
                for t in train_tasks
            ]
            s = scored(wins, train_tasks)
            key = s["R1@0.5"] + s["mIoU"] / 1000
            if key > best_score:
                best, best_score = (float(c), float(length)), key
    c, length = best
    out[f"best constant span (centre {c:.2f}, length {length:.2f} of the video)"] = scored(
        [
            [
                max(0.0, (c - length / 2) * t["video"]["duration"]),
                min(t["video"]["duration"], (c + length / 2) * t["video"]["duration"]),
            ]
            for t in tasks
        ],
        tasks,
    )
    hits, ious = [], []
    for t in tasks:
        kind = t["event_list"][0]["kind"]
        same = [e for e in t["video"]["events"] if e["kind"] == kind]
        vals = [max(iou([e["start"], e["end"]], g) for g in t["windows"]) for e in same]
        hits.append(np.mean([v >= 0.5 for v in vals]))
        ious.append(np.mean(vals))
    out["query-blind: right kind of event, random object"] = {
        "R1@0.5": 100 * float(np.mean(hits)),
        "mIoU": 100 * float(np.mean(ious)),
    }
    rng = np.random.default_rng(0)
    hits, ious = [], []
    for t in tasks:
        d = t["video"]["duration"]
        pts = np.sort(rng.uniform(0, d, size=(200, 2)), axis=1)
        vals = [max(iou(p, g) for g in t["windows"]) for p in pts]
        hits.append(np.mean([v >= 0.5 for v in vals]))
        ious.append(np.mean(vals))
    out["chance: a uniformly random window"] = {
        "R1@0.5": 100 * float(np.mean(hits)),
        "mIoU": 100 * float(np.mean(ious)),
    }
    return out


def choice_baselines(train: Path, test: Path) -> dict[str, dict[str, float]]:
    """Multiple-choice baselines (percent): chance, the constant letter and the constant count
    most often right in training, and an ideal observer of the 1 fps overview (counts the hidden
    phases the overview's frames show)."""
    test_mc = [t for t in tasks_by_eval_id(test).values() if t["kind"] == "multiple_choice"]
    train_mc = [t for t in tasks_by_eval_id(train).values() if t["kind"] == "multiple_choice"]
    count = [t for t in test_mc if t["type"] == "Counting Problem"]

    def acc(right: list[bool]) -> float:
        return 100 * float(np.mean(right)) if right else float("nan")

    out: dict[str, dict[str, float]] = {
        "chance": {
            "MC acc": 100 * float(np.mean([1 / len(t["options"]) for t in test_mc])),
            "counting acc": 100 * float(np.mean([1 / len(t["options"]) for t in count])),
        },
    }
    letters = [t["answer"] for t in train_mc]
    common = max(set(letters), key=letters.count)
    out[f"constant letter ({common})"] = {
        "MC acc": acc([t["answer"] == common for t in test_mc]),
        "counting acc": acc([t["answer"] == common for t in count]),
    }
    counts = [t["options"][t["answer_index"]] for t in train_mc if t["type"] == "Counting Problem"]
    mode = max(set(counts), key=counts.count)
    out[f"constant count ({mode})"] = {
        "counting acc": acc([t["options"][t["answer_index"]] == mode for t in count])
    }
    right = []
    for t in count:
        ev, video = t["event_list"][0], t["video"]
        fps, n = video["fps"], video["frame_count"]
        step = max(1, round(fps / 1.0))  # the 1 fps overview, <= 32 frames
        frames = np.linspace(0, n - 1, min(32, n // step)).round().astype(int)
        seen, hidden = 0, False
        for f in frames:
            off = ev["start_frame"] <= f < ev["end_frame"] and (
                (f - ev["start_frame"]) % ev["period"] < ev["off"]
            )
            seen += off and not hidden
            hidden = off
        opts = [int(o) for o in t["options"]]
        guess = min(range(len(opts)), key=lambda i: abs(opts[i] - seen))
        right.append(guess == t["answer_index"])
    out["ideal observer of the 1 fps overview"] = {"counting acc": acc(right)}
    return out


# ---------------------------------------------------------------------------- report


def run_info(run: Path) -> dict[str, float]:
    rows = read_jsonl(run / "metrics.jsonl") if (run / "metrics.jsonl").is_file() else []
    return {
        "steps": rows[-1]["step"] if rows else 0,
        "seconds": rows[-1].get("elapsed", 0.0) if rows else 0.0,
    }


def write_report(plan: Any, doc: Path, plots: Path, machine: str) -> None:
    """``docs/reproduction.md`` and its plots from every finished run and evaluation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots.mkdir(parents=True, exist_ok=True)
    test_tasks = tasks_by_eval_id(plan.test) if (plan.test / "world.json").is_file() else {}
    numbers: dict[str, dict[str, float]] = {}
    for name, step in plan.steps.items():
        if step.done.name == "metrics.json" and step.done.is_file() and "trainpred" not in name:
            numbers[name] = eval_numbers(step.done.parent, test_tasks)

    def arm(prefix: str, bench: str | None, key: str) -> str:
        vals = [
            numbers[f"{prefix}_s{k}" + (f"_{bench}" if bench else "")][key]
            for k in plan.seeds
            if f"{prefix}_s{k}" + (f"_{bench}" if bench else "") in numbers
        ]
        return mean_ci(vals)

    lines = ["# Reproduction: both methods, in miniature, on the synthetic world", ""]
    lines += [
        "Produced by `python scripts/reproduce.py --root ROOT` from runs in this repository "
        "(public recipes in `configs/repro/`, `framescope eval`); every number is mean ± 95 % "
        f"CI (t-interval) over the training seeds that have finished (seeds {plan.seeds}); "
        "a cell with one seed says so. Machine: " + machine + ".",
        "",
    ]
    done = [n for n, st in plan.steps.items() if st.done.exists()]
    pending = [n for n in plan.steps if n not in done]
    lines += [
        "## Status",
        "",
        f"{len(done)} of {len(plan.steps)} steps finished. Pending: "
        + (", ".join(f"`{n}`" for n in pending) if pending else "none")
        + ".",
        "",
    ]
    lines += SETUP
    lines += _claim_tables(arm, plan)
    lines += ["", "## Baselines on the same held-out questions", ""]
    if (plan.test / "world.json").is_file() and (plan.train / "world.json").is_file():
        mb, cb = moment_baselines(plan.train, plan.test), choice_baselines(plan.train, plan.test)
        lines += ["| grounding baseline | R1@0.5 | mIoU |", "|---|---|---|"]
        lines += [f"| {k} | {v['R1@0.5']:.1f} | {v['mIoU']:.1f} |" for k, v in mb.items()]
        lines += ["", "| multiple-choice baseline | MC acc | counting acc |", "|---|---|---|"]
        lines += [
            f"| {k} | {v.get('MC acc', float('nan')):.1f} | {v.get('counting acc', float('nan')):.1f} |"
            for k, v in cb.items()
        ]
    lines += ["", "## Runs", "", "| run | steps | wall time (min) |", "|---|---|---|"]
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for name, step in plan.steps.items():
        if step.resume is None or not (step.resume / "metrics.jsonl").is_file():
            continue
        info = run_info(step.resume)
        lines.append(f"| {name} | {info['steps']} | {info['seconds'] / 60:.1f} |")
        rows = read_jsonl(step.resume / "metrics.jsonl")
        key = "reward" if "reward" in rows[-1] else "loss"
        axis = ax[1] if key == "reward" else ax[0]
        axis.plot([r["step"] for r in rows], [r[key] for r in rows], label=name, lw=0.8)
    ax[0].set(title="SFT loss", xlabel="step", yscale="log")
    ax[1].set(title="GRPO mean reward", xlabel="step")
    for a in ax:
        if a.lines:
            a.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(plots / "learning_curves.png", dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for prefix, label in (
        ("df_own", "own density"),
        ("df_fixed", "fixed density"),
        ("df_overview", "overview only"),
        ("grpo_segment", "SD-GRPO"),
        ("grpo_trajectory", "trajectory GRPO"),
    ):
        pts = [
            (numbers[n]["frames/question"], numbers[n]["counting acc"])
            for n in numbers
            if n.startswith(prefix + "_s") and n.endswith("videomme")
        ]
        if pts:
            ax.scatter(*zip(*pts), label=label)
    ax.set(
        xlabel="frames seen per question",
        ylabel="counting accuracy (%)",
        title="accuracy vs frames used",
    )
    if ax.collections:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(plots / "accuracy_vs_frames.png", dpi=110)
    plt.close(fig)
    lines += [
        "",
        "![learning curves](reproduction/learning_curves.png)",
        "![accuracy vs frames](reproduction/accuracy_vs_frames.png)",
        "",
    ]
    lines += ["## Commands", "", "```bash"]
    from reproduce import command_for

    repo = str(Path(__file__).resolve().parents[1]) + "/"
    for name, step in plan.steps.items():
        cmd = command_for(step)
        if cmd:
            shown = " ".join(["framescope", *cmd[3:]]).replace(repo, "")
            lines.append(f"# {name}\n{shown.replace(str(plan.root), 'ROOT')}")
    lines += ["```", ""]
    doc.write_text("\n".join(lines) + "\n")


SETUP = [
    "## Setup",
    "",
    "- **Worlds** (`framescope.synth`): training = seed 1000, 300 videos of 16-24 s "
    "(6,004 tasks); held-out = seed 2000, 125 videos (918 moment-retrieval queries, 452 "
    "multiple-choice questions of which 125 count blinks). Other videos, objects, events and "
    "queries; the demo uses seeds from 10,000,000. DynFrame trains on the world's DM-CoT / DM-RL "
    "rows rewritten with the prompts `framescope eval` gives (`framescope.data.synth_eval`).",
    "- **Models**, trained from scratch (nothing pretrained exists offline): DynFrame on a "
    "Qwen3-VL `train` preset (text 128 wide, 4 layers, ~1.35 M parameters, the number "
    "vocabulary: whole tokens for 0-99 and 0.0-99.9, so a `<12.3 seconds>` frame stamp and a "
    "`12.30` answer share a token); VideoMind on a Qwen2.5-VL `train` preset (~1.4 M), whose "
    "warm start trains the whole base with the timestamp head (`finetune: full`), the roles "
    "then being LoRA adapters (r 32) on it. Frames 128x96 (DynFrame) / 112x84 (VideoMind), 12 "
    "visual tokens per 2-frame patch; DynFrame's overview 1 fps, <= 32 frames.",
    "- **Training**: one warm start per method (`configs/repro/*_warm.yaml`), then every arm a "
    "short fine-tune from it with the arm's one difference (`configs/repro/`); seeds change "
    "data order, dropout and sampling. Single-thread processes, two at a time.",
    "- **Evaluation**: `framescope eval charades_sta` (R1@0.5, mIoU) and `framescope eval "
    "videomme` (accuracy; counting = its `Counting Problem` category) on the held-out world, "
    "greedy decoding; frames and requests are read from each prediction's trace.",
    "",
    "Measured so far (partial, first session): the VideoMind grounder (top-1, seed 0) reaches "
    "R1@0.5 27.2 / mIoU 24.3 on 918 held-out queries — twice the best constant span (13.8) but "
    "far below the query-blind observer (58.4), which is told the event kind and picks among "
    "that kind's events perfectly. The DynFrame model after its warm start + 200 steps does "
    "not yet answer: on the first 200 held-out multiple-choice questions its retrieval is "
    "well formed 84 % of the time, but the window it writes often differs from the one its "
    "reasoning names (a 12 s window at 10 fps: 124 frames, six times the longest clip it was "
    "trained on) and the text after the clip degenerates (counting 3.6 %, below chance). Not "
    "shipped as the default for that reason.",
    "",
    "Found on the way: the world's counting options were the true count and three of its "
    "neighbours in order, so the truth was always (B) or (C) and the options' spacing gave it "
    "away (a constant letter scored 47 %, a reader of the options alone 75 %). The generator now "
    "draws four consecutive counts with the truth at a uniformly random place "
    "(`tests/video/test_synth_counting.py`); the baselines below are on the fixed world.",
    "",
]


def _claim_tables(arm: Any, plan: Any) -> list[str]:
    """The four claims' tables (cells filled from whatever has finished)."""
    out = [
        "## 1. DynFrame: learnable density vs one fixed density at an equal frame budget",
        "",
        f"Fixed density: {plan.fixed_fps:g} fps (the own-density rows' frames per second of "
        "window), served whatever the model asks.",
        "",
        "| arm | counting acc | MC acc | R1@0.5 | mIoU | fetched frames (counting) | fetched frames (grounding) |",
        "|---|---|---|---|---|---|---|",
    ]
    for prefix, label in (("df_own", "A: own `<fps>`"), ("df_fixed", "B: fixed fps")):
        out.append(
            f"| {label} | {arm(prefix, 'videomme', 'counting acc')} | "
            f"{arm(prefix, 'videomme', 'MC acc')} | {arm(prefix, 'charades_sta', 'R1@0.5')} | "
            f"{arm(prefix, 'charades_sta', 'mIoU')} | {arm(prefix, 'videomme', 'fetched frames')} | "
            f"{arm(prefix, 'charades_sta', 'fetched frames')} |"
        )
    out += [
        "",
        "## 2. SD-GRPO vs trajectory GRPO (same SFT checkpoint, rewards, steps)",
        "",
        "| arm | MC acc | counting acc | R1@0.5 | request IoU (grounding) | well-formed requests % |",
        "|---|---|---|---|---|---|",
    ]
    for prefix, label in (
        ("df_own", "the SFT checkpoint (own density)"),
        ("grpo_segment", "SD-GRPO (segment advantages)"),
        ("grpo_trajectory", "trajectory GRPO"),
    ):
        out.append(
            f"| {label} | {arm(prefix, 'videomme', 'MC acc')} | "
            f"{arm(prefix, 'videomme', 'counting acc')} | {arm(prefix, 'charades_sta', 'R1@0.5')} | "
            f"{arm(prefix, 'charades_sta', 'request IoU')} | "
            f"{arm(prefix, 'charades_sta', 'well-formed requests %')} |"
        )
    out += [
        "",
        "## 3. VideoMind: verifier re-ranking vs the grounder's top-1; Chain-of-LoRA vs one shared adapter",
        "",
        "| arm | R1@0.5 | mIoU |",
        "|---|---|---|",
    ]
    for prefix, label in (
        ("vm_top1", "grounder top-1 (no verifier)"),
        ("vm_col", "Chain-of-LoRA: grounder + verifier adapters, re-ranked"),
        ("vm_shared", "one shared adapter (both roles), re-ranked"),
    ):
        out.append(f"| {label} | {arm(prefix, None, 'R1@0.5')} | {arm(prefix, None, 'mIoU')} |")
    out += [
        "",
        "## 4. Retrieval vs no retrieval (the same DynFrame model)",
        "",
        "| arm | counting acc | MC acc | R1@0.5 | mIoU | frames/question |",
        "|---|---|---|---|---|---|",
    ]
    for prefix, label in (
        ("df_own", "DynFrame: overview + its own retrieval"),
        ("df_overview", "overview only (retrieval refused: --max-rounds 0)"),
    ):
        out.append(
            f"| {label} | {arm(prefix, 'videomme', 'counting acc')} | "
            f"{arm(prefix, 'videomme', 'MC acc')} | {arm(prefix, 'charades_sta', 'R1@0.5')} | "
            f"{arm(prefix, 'charades_sta', 'mIoU')} | {arm(prefix, 'videomme', 'frames/question')} |"
        )
    return out


# ---------------------------------------------------------------------------- shipping


def ship(
    plan: Any,
    target: Path,
    dynframe: str = "df_own_s0",
    videomind: str = "vm_col_s0",
    videomind_folder: str | None = None,
) -> None:
    """Copy the chosen runs into the package as the default model (weights, tokenizer,
    processor; the VideoMind base inside its folder) with ``settings.json``. ``videomind`` names
    the evaluation whose model ships (its folder: ``videomind_folder`` under the runs, default
    the same name)."""
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    df = plan.runs / dynframe / "checkpoint-200" / "model"
    shutil.copytree(df, tmp / "dynframe", ignore=shutil.ignore_patterns("*.tmp"))
    vm = plan.runs / (videomind_folder or videomind)
    shutil.copytree(vm, tmp / "videomind")
    base = Path(json.loads((vm / "config.json").read_text())["base_model_path"])
    shutil.copytree(base, tmp / "videomind" / "base")
    for name in ("config.json", "framescope.json"):
        path = tmp / "videomind" / name
        data = json.loads(path.read_text())
        data["base_model_path"] = "base"
        path.write_text(json.dumps(data, indent=2) + "\n")
    settings = {"overview_fps": 1.0, "overview_max_frames": 32, "max_new_tokens": 384}
    (tmp / "settings.json").write_text(json.dumps(settings, indent=2) + "\n")
    (tmp / "MODEL_CARD.md").write_text(model_card(plan, dynframe, videomind))
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)


def model_card(plan: Any, dynframe: str, videomind: str) -> str:
    """The card shipped beside the default weights: what they are, their measured numbers."""
    tasks = tasks_by_eval_id(plan.test)

    def measured(name: str) -> dict[str, float]:
        folder = plan.evals / name
        return eval_numbers(folder, tasks) if (folder / "metrics.json").is_file() else {}

    mc, mr = measured(f"{dynframe}_videomme"), measured(f"{dynframe}_charades_sta")
    vm = measured(videomind)
    rows = [
        ("DynFrame, counting (Video-MME format)", "accuracy", mc.get("counting acc")),
        ("DynFrame, all multiple choice", "accuracy", mc.get("MC acc")),
        ("DynFrame, grounding (Charades-STA format)", "R1@0.5", mr.get("R1@0.5")),
        ("VideoMind grounder + verifier, grounding", "R1@0.5", vm.get("R1@0.5")),
        ("VideoMind grounder + verifier, grounding", "mIoU", vm.get("mIoU")),
    ]
    table = "\n".join(
        f"| {what} | {metric} | {value:.1f} |"
        if value is not None
        else f"| {what} | {metric} | — |"
        for what, metric, value in rows
    )
    return f"""# framescope default model

Two tiny video LLMs that framescope trained itself, from random weights, with its own recipes
(`scripts/reproduce.py`, `docs/reproduction.md`): `{dynframe}` and `{videomind}` of that run.

- `dynframe/`: Qwen3-VL architecture, ~1.35 M parameters, the offline tokenizer with the number
  vocabulary. Writes `<span>s - e</span><fps>k</fps>` while reasoning, gets that window at that
  density, answers. Inference as trained: overview 1 fps (<= 32 frames), 384 new tokens.
- `videomind/`: Qwen2.5-VL architecture, ~1.4 M parameters (`base/`), grounder and verifier LoRA
  adapters and the timestamp head; the answerer is the base, which was trained as a grounder only
  (its free-text answers are not meaningful).

Trained on synthetic world seed 1000 (300 videos of coloured shapes that appear, disappear,
move, change colour and blink; 16-24 s, 320x240, 10 fps) and measured on seed 2000 (125 videos
it never saw), greedy decoding:

| task | metric | held-out (%) |
|---|---|---|
{table}

**It knows only the synthetic world**: those shapes, colours, events and the prompts
`framescope eval synth` writes. On any other video or question its output means nothing. It is
a demonstration that framescope's training makes the methods work, not a model to use.
"""

"""``framescope demo``: the default model answers questions about a video it has never seen.

:func:`run_demo` synthesises a fresh video (world seed :data:`DEMO_SEED` + ``seed``, a range the
reproduction never trains or evaluates on), asks the trained models the questions the world
writes for it — how many times an object blinks, when events happen, multiple choice about colour,
position and order — in exactly the prompts ``framescope eval synth`` gives, and checks every
answer against the exact ground truth:

- counting and multiple choice: the DynFrame model (``method dynframe``): it reads the
  overview, writes ``<span>s - e</span><fps>k</fps>``, gets that window at that density, answers;
- grounding: the VideoMind agent (grounder + timestamp head, verifier re-ranking), or the
  DynFrame model with ``grounding="dynframe"``.

Contact sheets show the overview and each window a model asked for (DynFrame) or verified top
(VideoMind); ``report.json`` holds every question, answer, ground truth and trace.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framescope.eval.benchmarks.synth import SYNTH
from framescope.eval.metrics import max_iou
from framescope.fileio import write_json, write_png
from framescope.methods import DynFrame, InferConfig, Sample, VideoMindAgent
from framescope.models.default import resolve_model
from framescope.models.hf import load_backend
from framescope.synth import generate_world
from framescope.types import LETTERS, Trace, Window
from framescope.video.decode import decode
from framescope.video.sampling import sample
from framescope.viz import contact_sheet

DEMO_SEED = 10_000_000  # demo worlds are seeds 10,000,000 + n; the reproduction uses 1000-2999
IOU_RIGHT = 0.5  # a grounding answer counts as right at IoU >= 0.5 (R1@0.5)
# the inference settings the default model was trained for (docs/reproduction.md)
INFER = InferConfig(max_new_tokens=384, overview_fps=1.0, overview_max_frames=32, batch_size=8)


@dataclass
class DemoAnswer:
    """One question, what the model answered, the ground truth, and whether it is right."""

    kind: str  # counting | grounding | multiple choice
    question: str
    options: tuple[str, ...]
    truth: str
    answer: str
    right: bool
    method: str
    windows: tuple[Window, ...]  # what the model looked at (fetched / verified top moments)
    iou: float | None = None
    trace: Trace | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "question": self.question,
            "options": list(self.options),
            "truth": self.truth,
            "answer": self.answer,
            "right": self.right,
            "method": self.method,
            "windows": [w.to_list() for w in self.windows],
            "iou": self.iou,
            "trace": self.trace.to_dict() if self.trace else None,
        }


@dataclass
class DemoResult:
    video: Path
    answers: list[DemoAnswer]
    sheets: list[Path]
    seconds: float

    @property
    def right(self) -> int:
        return sum(a.right for a in self.answers)


def _questions(world: Path) -> list[tuple[str, Any, dict[str, Any]]]:
    """(kind, eval item, world task) for the demo's questions: the blink count, the other
    multiple-choice questions, and up to three moments (one per event kind)."""
    manifest = json.loads((world / "world.json").read_text(encoding="utf-8"))
    (video,) = manifest["videos"]
    items = SYNTH.items(SYNTH.load([world]), SYNTH.videos(world))
    by_task = {"charades_sta": [], "videomme": []}  # type: dict[str, list[Any]]
    for it in items:
        by_task.setdefault(it.id.partition("/")[0], []).append(it)
    tasks = {
        t["kind"]: [x for x in video["tasks"] if x["kind"] == t["kind"]] for t in video["tasks"]
    }
    out: list[tuple[str, Any, dict[str, Any]]] = []
    for item, task in zip(by_task["videomme"], tasks.get("multiple_choice", [])):
        kind = "counting" if task["type"] == "Counting Problem" else "multiple choice"
        out.append((kind, item, task))
    seen: set[str] = set()
    for item, task in zip(by_task["charades_sta"], tasks.get("moment_retrieval", [])):
        kind = "slow move" if "slowly" in task["question"] else task["type"]
        if kind not in seen and len(seen) < 3:
            seen.add(kind)
            out.append(("grounding", item, task))
    out.sort(key=lambda q: ("counting", "grounding", "multiple choice").index(q[0]))
    return out


def _sample(item: Any) -> Sample:
    return item.sample


def run_demo(
    out: str | Path,
    seed: int = 0,
    model: str | None = None,
    videomind_model: str | None = None,
    grounding: str = "videomind",
    device: str = "cpu",
) -> DemoResult:
    """Synthesise a video, ask the models, check the answers (see the module docstring).
    ``model`` / ``videomind_model``: checkpoint folders (default: the shipped ones)."""
    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    world = out / "world"
    generate_world(world, seed=DEMO_SEED + seed, num_videos=1, duration=(16, 24), overwrite=True)
    questions = _questions(world)
    dyn = [q for q in questions if q[0] != "grounding" or grounding == "dynframe"]
    vm = [q for q in questions if q[0] == "grounding" and grounding == "videomind"]
    traces: dict[str, tuple[Trace, str]] = {}
    if dyn:
        backend = load_backend(resolve_model(model, "dynframe"), device=device)
        for t in DynFrame().run(backend, [_sample(q[1]) for q in dyn], INFER):
            traces[t.id] = (t, "dynframe")
    if vm:
        backend = load_backend(resolve_model(videomind_model, "videomind"), device=device)
        config = InferConfig(max_new_tokens=48, batch_size=8)
        for t in VideoMindAgent().run(backend, [_sample(q[1]) for q in vm], config):
            traces[t.id] = (t, "videomind")
    answers = [_judge(kind, item, task, *traces[item.id]) for kind, item, task in questions]
    video = Path(questions[0][1].sample.video)
    sheets = _sheets(out, video, answers)
    result = DemoResult(video, answers, sheets, time.perf_counter() - t0)
    write_json(
        out / "report.json",
        {
            "video": str(video),
            "world_seed": DEMO_SEED + seed,
            "right": result.right,
            "asked": len(answers),
            "answers": [a.to_dict() for a in answers],
            "contact_sheets": [str(p) for p in sheets],
            "seconds": round(result.seconds, 2),
        },
    )
    return result


def _judge(kind: str, item: Any, task: dict[str, Any], trace: Trace, method: str) -> DemoAnswer:
    looked = tuple(e.window for e in trace.evidence if e.window is not None)
    if kind == "grounding":
        truth_windows = [Window(*w) for w in task["windows"]]
        predicted = trace.answer.windows[:1] or looked[-1:]
        iou = max_iou(predicted[0], truth_windows) if predicted else 0.0
        answer = str(predicted[0]) if predicted else "(no moment)"
        if method == "videomind":
            looked = tuple(trace.answer.windows[:1])
        return DemoAnswer(
            kind,
            item.sample.question,
            (),
            task["answer"],
            answer,
            iou >= IOU_RIGHT,
            method,
            looked,
            round(iou, 3),
            trace,
        )
    letter = trace.answer.letter
    options = tuple(item.sample.options)
    shown = f"({letter}) {options[LETTERS.index(letter)]}" if letter else "(no option)"
    truth = f"({task['answer']}) {options[LETTERS.index(task['answer'])]}"
    return DemoAnswer(
        kind,
        item.sample.question,
        options,
        truth,
        shown,
        letter == task["answer"],
        method,
        looked,
        trace=trace,
    )


def _sheets(out: Path, video: Path, answers: Sequence[DemoAnswer]) -> list[Path]:
    """The overview the models saw, then one sheet per window a model asked for."""
    paths = [out / "overview.png"]
    overview = sample(video, fps=INFER.overview_fps, max_frames=INFER.overview_max_frames)
    write_png(paths[0], contact_sheet(overview, title=f"overview: {len(overview)} frames"))
    for k, a in enumerate(answers, 1):
        if a.trace is None or a.method != "dynframe":
            continue
        for j, ev in enumerate(a.trace.evidence, 1):
            clip = decode(video, ev.timestamps)
            title = f"Q{k} ({a.kind}): asked {ev.window} at {ev.fps:.1f} fps, {ev.frames} frames"
            path = out / f"q{k}_window{j}.png"
            write_png(path, contact_sheet(clip, title=title))
            paths.append(path)
    return paths


def print_result(result: DemoResult) -> None:
    """The demo's terminal output: each question, answer, evidence and ground truth."""
    print(f"video: {result.video} (synthesised now; never seen in training)")
    for k, a in enumerate(result.answers, 1):
        mark = "RIGHT" if a.right else "wrong"
        print(f"\nQ{k} [{a.kind}, {a.method}] {a.question}")
        for j, opt in enumerate(a.options):
            print(f"     ({LETTERS[j]}) {opt}")
        iou = f" (IoU {a.iou:.2f})" if a.iou is not None else ""
        print(f"  answer: {a.answer}{iou}  — {mark}")
        print(f"  truth:  {a.truth}")
        if a.windows:
            print("  looked at: " + ", ".join(str(w) for w in a.windows))
    print(f"\n{result.right} of {len(result.answers)} right ({result.seconds:.1f} s)")
    print("contact sheets: " + ", ".join(str(p) for p in result.sheets))

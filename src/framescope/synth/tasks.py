"""Tasks built from a synthetic scene's events, and the benchmark files that carry them.

Three kinds, each with exact ground truth from the script:

- ``moment_retrieval``: one per event; the query is the event's description, the answer its span
  (written as Charades-STA lines and as DynFrame DM-RL grounding rows);
- ``grounded_qa``: NExT-GQA-style questions with five options and an evidence span: what an object
  did after (``TN``) or before (``TP``) another of its events, how it moved (``CH``), what colour it
  was when another object appeared or changed (``TC``);
- ``multiple_choice``: Video-MME-style questions with four options: blink counting (a short dense
  burst that 1 fps sampling cannot count), colour after a change, which object appears first,
  where a slow mover ends up (a long move that only wide coverage can place).

Every task carries ``fps``, the sampling density it needs (DM-RL's ``fps`` field): enough frames
to see every phase of a blink burst, at least four frames inside a short transition, 1 fps for long
slow moves.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from framescope.synth.scene import (
    PALETTE,
    SHAPES,
    STOPS,
    Event,
    ObjectState,
    Scene,
)
from framescope.types import LETTERS, Window

MIN_FRAMES_IN_SPAN = 4  # a short event's span holds at least this many sampled frames
MAX_DYNFRAME_FPS = 30  # DynFrame accepts integer densities 1-30
GROUNDING_PROMPT = (
    "<video>\nGive you a textual query: {query}\n"
    "When does the described content occur in the video?\n"
    "Please return the timestamp in seconds."
)


@dataclass(frozen=True)
class Task:
    """One question about one video, its exact answer, evidence windows and needed density."""

    task_id: str
    kind: str  # moment_retrieval | grounded_qa | multiple_choice
    type: str  # event kind; NExT-GQA type (TN, TP, CH, TC); Video-MME task_type
    question: str  # for moment retrieval: the query sentence
    answer: str  # span "s.ss - e.ss", option text (grounded QA) or option letter (multiple choice)
    windows: tuple[Window, ...]  # ground-truth span / evidence, absolute seconds
    fps: int  # sampling density the task needs
    events: tuple[str, ...]  # ids of the events it is about
    options: tuple[str, ...] = ()
    answer_index: int | None = None
    qid: str | None = None  # NExT-GQA qid / Video-MME question_id

    @property
    def span(self) -> Window:
        """The smallest window covering all evidence (DM-RL's single ground-truth span)."""
        return Window(min(w.start for w in self.windows), max(w.end for w in self.windows))

    def to_dict(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "kind": self.kind,
            "type": self.type,
            "question": self.question,
            "options": list(self.options),
            "answer": self.answer,
            "answer_index": self.answer_index,
            "windows": [[round(w.start, 6), round(w.end, 6)] for w in self.windows],
            "fps": self.fps,
            "events": list(self.events),
            "qid": self.qid,
        }


@dataclass(frozen=True)
class WorldVideo:
    """A scene as written into a world: its tasks, its path relative to the world folder, its rank."""

    scene: Scene
    tasks: tuple[Task, ...]
    path: str  # "videos/<video_id>.mp4"
    index: int

    @property
    def videomme_id(self) -> str:
        """Video-MME numbers its videos "001", "002", …"""
        return f"{self.index + 1:03d}"


def span_text(w: Window) -> str:
    """DynFrame's answer format: ``"s.ss - e.ss"``."""
    return f"{w.start:.2f} - {w.end:.2f}"


def asked(question: str) -> str:
    """``question`` ending with a question mark (grounded-QA questions are stored without one)."""
    return question if question.endswith("?") else question + "?"


def needed_fps(event: Event) -> int:
    """The sampling density an event needs, as an integer DynFrame density (1-30).

    A blink burst needs samples at most half its shortest phase apart, so that uniform samples land
    in every hidden and every shown phase (capped at the video's own rate: then every frame); any
    other event needs ``MIN_FRAMES_IN_SPAN`` frames inside its span, and at least 1 fps.
    """
    if event.kind == "blink":
        assert event.period is not None and event.off is not None
        shortest = min(event.off, event.period - event.off)
        return min(event.fps, 2 * math.ceil(event.fps / shortest), MAX_DYNFRAME_FPS)
    # in whole frames: window.duration in float seconds would round 1 s up to 1.0000000001 s
    need = math.ceil(MIN_FRAMES_IN_SPAN * event.fps / (event.end_frame - event.start_frame))
    return max(1, min(event.fps, need, MAX_DYNFRAME_FPS))


def _did(ev: Event) -> str:
    """What the object did, in the past tense ("turned yellow")."""
    if ev.kind == "move":
        assert ev.from_stop is not None and ev.to_stop is not None
        return (
            "moved from left to right" if ev.to_stop > ev.from_stop else "moved from right to left"
        )
    return {
        "appear": "appeared",
        "disappear": "disappeared",
        "blink": "blinked",
        "colour": f"turned {ev.to_colour}",
    }[ev.kind]


def _name(scene: Scene, ev: Event) -> str:
    """The object of ``ev`` as named just before it: colour then and shape."""
    obj = scene.object(ev.object_id)
    colour = scene.state(obj.id, ev.start_frame).colour
    return f"the {colour} {obj.shape}"


def _options(
    truth: str, distractors: list[str], k: int, rng: np.random.Generator, shuffle: bool = True
) -> tuple[tuple[str, ...], int]:
    """``k`` options: the truth and ``k - 1`` distractors drawn without repeats."""
    pool = sorted(set(distractors) - {truth})
    picked = [pool[int(i)] for i in rng.choice(len(pool), size=k - 1, replace=False)]
    options = [truth, *picked]
    if shuffle:
        options = [options[int(i)] for i in rng.permutation(k)]
    return tuple(options), options.index(truth)


def build_tasks(scene: Scene, rng: np.random.Generator, index: int = 0) -> tuple[Task, ...]:
    """Every task of one scene: moment retrieval, grounded QA, multiple choice (in that order)."""
    return (
        *_moment_tasks(scene),
        *_grounded_qa(scene, rng),
        *_multiple_choice(scene, rng, f"{index + 1:03d}"),
    )


def _moment_tasks(scene: Scene) -> list[Task]:
    return [
        Task(
            task_id=f"{scene.video_id}/mr{k}",
            kind="moment_retrieval",
            type=ev.kind,
            question=ev.description,
            answer=span_text(ev.window),
            windows=(ev.window,),
            fps=needed_fps(ev),
            events=(ev.id,),
        )
        for k, ev in enumerate(scene.events)
    ]


def _grounded_qa(scene: Scene, rng: np.random.Generator) -> list[Task]:
    actions = ["appeared", "disappeared", "blinked", "moved from left to right"]
    actions += ["moved from right to left", *(f"turned {c}" for c in PALETTE)]
    routes = [
        f"from the {STOPS[a]} to the {STOPS[b]}" for a in range(4) for b in range(4) if a != b
    ]
    drafts: list[
        tuple[str, str, str, list[str], Event]
    ] = []  # type, question, truth, pool, evidence
    for obj in scene.objects:
        evs = scene.events_of(obj.id)
        # never offer as a wrong answer something this object does at some point
        pool = [a for a in actions if a not in {_did(e) for e in evs}]
        for a, b in itertools.pairwise(evs):
            if rng.random() < 0.5:
                q = f"what did {_name(scene, a)} do after it {_did(a)}"
                drafts.append(("TN", q, _did(b), pool, b))
            else:
                q = f"what did {_name(scene, b)} do before it {_did(b)}"
                drafts.append(("TP", q, _did(a), pool, a))
        moves = [e for e in evs if e.kind == "move"]
        if len(moves) == 1:
            m = moves[0]
            assert m.from_stop is not None and m.to_stop is not None
            truth = f"from the {STOPS[m.from_stop]} to the {STOPS[m.to_stop]}"
            drafts.append(("CH", f"how did {_name(scene, m)} move", truth, routes, m))
    for ref in scene.events:
        if ref.kind not in ("appear", "colour"):
            continue
        frames = range(ref.start_frame, ref.end_frame + 1)
        steady = []  # objects fully shown in one colour throughout the reference event
        for obj in scene.objects:
            states = [scene.state(obj.id, f) for f in frames]
            colours = {s.colour for s in states}
            if obj.id != ref.object_id and all(s.alpha == 1 for s in states) and len(colours) == 1:
                steady.append((obj, colours.pop()))
        if steady:
            obj, colour = steady[int(rng.integers(len(steady)))]
            q = f"what colour was the {obj.shape} when {_name(scene, ref)} {_did(ref)}"
            assert colour is not None
            drafts.append(("TC", q, colour, list(PALETTE), ref))
    tasks = []
    for qid, (qtype, question, truth, pool, evidence) in enumerate(drafts):
        options, answer_index = _options(truth, pool, 5, rng)
        tasks.append(
            Task(
                task_id=f"{scene.video_id}/gqa{qid}",
                kind="grounded_qa",
                type=qtype,
                question=question,
                answer=truth,
                windows=(evidence.window,),
                fps=needed_fps(evidence),
                events=(evidence.id,),
                options=options,
                answer_index=answer_index,
                qid=str(qid),
            )
        )
    return tasks


def _multiple_choice(scene: Scene, rng: np.random.Generator, videomme_id: str) -> list[Task]:
    # (task_type, question, options, answer index, evidence events, fps)
    drafts: list[tuple[str, str, tuple[str, ...], int, list[Event], int]] = []
    for ev in scene.events:
        shape = scene.object(ev.object_id).shape
        if ev.kind == "blink":
            assert ev.count is not None
            n = ev.count
            # four consecutive counts in order, the truth at a uniformly random place: neither
            # its letter nor the options' spacing gives it away (the truth is the count itself)
            low = n - int(rng.integers(0, 4))
            ordered = [str(c) for c in range(low, low + 4)]
            q = f"How many times does {_name(scene, ev)} blink?"
            drafts.append(
                ("Counting Problem", q, tuple(ordered), ordered.index(str(n)), [ev], needed_fps(ev))
            )
        elif ev.kind == "colour":
            assert ev.from_colour is not None and ev.to_colour is not None
            others = [c.capitalize() for c in PALETTE if c != ev.from_colour]
            options, i = _options(ev.to_colour.capitalize(), others, 3, rng)
            options, i = _options_with(options, i, ev.from_colour.capitalize(), rng)
            q = f"What colour does the {shape} turn into?"
            drafts.append(("Attribute Perception", q, options, i, [ev], needed_fps(ev)))
        elif scene.is_slow(ev):
            assert ev.to_stop is not None
            options = tuple(f"On the {s}." for s in STOPS)
            q = f"Where does {_name(scene, ev)} end up after its slow move?"
            drafts.append(("Spatial Perception", q, options, ev.to_stop, [ev], needed_fps(ev)))
    first = _appears_first(scene, rng)
    if first is not None:
        drafts.append(first)
    tasks = []
    for k, (task_type, question, options, i, evidence, fps) in enumerate(drafts):
        tasks.append(
            Task(
                task_id=f"{scene.video_id}/mcq{k}",
                kind="multiple_choice",
                type=task_type,
                question=question,
                answer=LETTERS[i],
                windows=tuple(e.window for e in evidence),
                fps=fps,
                events=tuple(e.id for e in evidence),
                options=options,
                answer_index=i,
                qid=f"{videomme_id}-{k + 1}",
            )
        )
    return tasks


def _options_with(
    options: tuple[str, ...], truth_index: int, extra: str, rng: np.random.Generator
) -> tuple[tuple[str, ...], int]:
    """Add ``extra`` (a tempting wrong option, e.g. the colour before a change) at a random place."""
    where = int(rng.integers(len(options) + 1))
    out = (*options[:where], extra, *options[where:])
    return out, truth_index + (where <= truth_index)


def _appears_first(
    scene: Scene, rng: np.random.Generator
) -> tuple[str, str, tuple[str, ...], int, list[Event], int] | None:
    """ "Which object appears first?" when the first appearance leads the next by >= 1 s."""
    appears = [e for e in scene.events if e.kind == "appear"]
    if len(appears) < 2 or appears[1].start_frame - appears[0].start_frame < scene.fps:
        return None
    chosen = [appears[0]]
    rest = appears[1:]
    chosen += [rest[int(i)] for i in rng.choice(len(rest), size=min(3, len(rest)), replace=False)]
    names = [_name(scene, e) for e in chosen]
    # fill with objects that never appear in this video: a shape it lacks, or a colour its shape
    # never has
    seen = {(s.colour, o.shape) for o in scene.objects for s in _colours_over_time(scene, o.id)}
    fictional = [f"the {c} {s}" for s in SHAPES for c in PALETTE if (c, s) not in seen]
    while len(names) < 4:
        pick = fictional.pop(int(rng.integers(len(fictional))))
        names.append(pick)
    order = [int(i) for i in rng.permutation(4)]
    options = tuple(
        names[i][4:].capitalize() + "." for i in order
    )  # "The red circle." → "Red circle."
    # two samples between the first two appearances tell which came first
    gap = appears[1].start_frame - appears[0].start_frame
    fps = max(1, min(scene.fps, math.ceil(2 * scene.fps / gap)))
    q = "Which of these objects appears first?"
    return ("Temporal Reasoning", q, options, order.index(0), chosen, fps)


def _colours_over_time(scene: Scene, object_id: str) -> list[ObjectState]:
    """The object's state at frame 0 and after each of its colour changes."""
    ends = [0] + [e.end_frame for e in scene.events_of(object_id) if e.kind == "colour"]
    return [scene.state(object_id, f) for f in ends]


# --- benchmark files ------------------------------------------------------------------------------


def charades_sta_text(videos: list[WorldVideo]) -> str:
    """Charades-STA: ``"<video_id> <start> <end>##<sentence>."`` per moment, seconds."""
    lines = []
    for v in videos:
        for t in v.tasks:
            if t.kind == "moment_retrieval":
                w = t.windows[0]
                lines.append(f"{v.scene.video_id} {w.start:.2f} {w.end:.2f}##{t.question}.")
    return "".join(line + "\n" for line in lines)


NEXTGQA_COLUMNS = (
    *("video_id", "frame_count", "width", "height", "question", "answer", "qid", "type"),
    *("a0", "a1", "a2", "a3", "a4"),
)


def nextgqa_csv_text(videos: list[WorldVideo]) -> str:
    """NExT-GQA ``test.csv``: the answer column holds the answer text, a0-a4 the options."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(NEXTGQA_COLUMNS)
    for v in videos:
        s = v.scene
        for t in v.tasks:
            if t.kind == "grounded_qa":
                row = [s.video_id, s.num_frames, s.width, s.height, t.question, t.answer, t.qid]
                writer.writerow([*row, t.type, *t.options])
    return buf.getvalue()


def nextgqa_gsub(videos: list[WorldVideo]) -> dict[str, Any]:
    """NExT-GQA ``gsub_test.json``: ``{video_id: {duration, location: {qid: [[s, e]]}, fps}}``."""
    out: dict[str, Any] = {}
    for v in videos:
        location = {
            t.qid: [[round(w.start, 6), round(w.end, 6)] for w in t.windows]
            for t in v.tasks
            if t.kind == "grounded_qa"
        }
        if location:
            out[v.scene.video_id] = {
                "duration": round(v.scene.duration, 6),
                "location": location,
                "fps": v.scene.fps,
            }
    return out


def videomme_duration(seconds: float) -> str:
    """Video-MME's length classes: short (< 2 min), medium (up to 15 min), long."""
    return "short" if seconds < 120 else "medium" if seconds <= 900 else "long"


def videomme_records(videos: list[WorldVideo]) -> list[dict[str, Any]]:
    """Video-MME rows with the Hugging Face dataset's columns (``url`` holds the relative path)."""
    rows = []
    for v in videos:
        for t in v.tasks:
            if t.kind == "multiple_choice":
                rows.append(
                    {
                        "video_id": v.videomme_id,
                        "duration": videomme_duration(v.scene.duration),
                        "domain": "Synthetic",
                        "sub_category": "Shapes",
                        "url": v.path,
                        "videoID": v.scene.video_id,
                        "question_id": t.qid,
                        "task_type": t.type,
                        "question": t.question,
                        "options": [f"{LETTERS[i]}. {o}" for i, o in enumerate(t.options)],
                        "answer": t.answer,
                    }
                )
    return rows


def dynframe_prompt(t: Task) -> str:
    """The DynFrame prompt of a task: the released grounding prompt for moment retrieval, else the
    question with lettered options."""
    if t.kind == "moment_retrieval":
        return GROUNDING_PROMPT.format(query=t.question)
    question = asked(t.question)
    lines = [f"({LETTERS[i]}) {o}" for i, o in enumerate(t.options)]
    prompt = "<video>\n" + question + "\nOptions:\n" + "\n".join(lines)
    return prompt + "\nPlease answer with the option's letter."


def dynframe_answer(t: Task) -> str:
    """The DynFrame answer of a task: ``"s.ss - e.ss"`` or the option letter."""
    if t.kind == "grounded_qa":  # offered as lettered options here, like the others
        assert t.answer_index is not None
        return LETTERS[t.answer_index]
    return t.answer


def dm_rl_rows(videos: list[WorldVideo]) -> list[dict[str, Any]]:
    """DynFrame DM-RL rows: grounding rows (answer ``"s.ss - e.ss"``) for moment retrieval tasks,
    option-letter rows for grounded QA and multiple choice, each with its evidence span and fps."""
    rows = []
    for v in videos:
        for t in v.tasks:
            span = t.span
            rows.append(
                {
                    "prompt": dynframe_prompt(t),
                    "video": v.path,
                    "answer": dynframe_answer(t),
                    "fps": t.fps,
                    "gt_span_start": round(span.start, 6),
                    "gt_span_end": round(span.end, 6),
                }
            )
    return rows


def jsonl_text(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, allow_nan=False) + "\n" for r in rows)

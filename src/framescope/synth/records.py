"""Training rows built from a synthetic world's tasks: DynFrame DM-CoT (SFT) and VideoMind's
grounder and planner data. Templated text, exact ground truth.

- **DM-CoT** (``dynframe/dm_cot.json``): one ShareGPT row per task with the same prompt as its
  DM-RL row. The assistant turn says what it is looking for, retrieves the task's evidence span at
  the density the task needs (``<span>s - e</span><fps>k</fps><video>``), then states what the
  clip shows (the scripted events, with their times) and answers:
  ``<think>…<span>…</span><fps>…</fps><video>\\n…</think><answer>…</answer>``.
- **grounder** (``videomind/grounder.jsonl``): one row per moment-retrieval task,
  ``{video_path, duration, query, span: [[s, e]]}``.
- **planner** (``videomind/planner.jsonl``): one row per task with the route it should take
  (:func:`planner_route`), ``{video_path, duration, question, query, route}``.
"""

from __future__ import annotations

from typing import Any

from framescope.synth.scene import Event, Scene
from framescope.synth.tasks import (
    Task,
    WorldVideo,
    asked,
    dynframe_answer,
    dynframe_prompt,
    span_text,
)
from framescope.types import LETTERS


def _events(scene: Scene, task: Task) -> list[Event]:
    by_id = {e.id: e for e in scene.events}
    return [by_id[i] for i in task.events]


def _density_reason(scene: Scene, events: list[Event]) -> str:
    """Why the task's density suits its evidence (the rule of ``needed_fps``)."""
    if len(events) > 1:
        return "dense enough to put a frame between the appearances"
    ev = events[0]
    if ev.kind == "blink":
        return "dense enough to see every hidden and shown phase of the blinks"
    if scene.is_slow(ev):
        return "sparse is enough: a slow move needs coverage, not density"
    if ev.kind == "move":
        return "enough to follow a move of a few seconds"
    return "dense, because the change takes only about a second"


def _observed(ev: Event) -> str:
    """What the clip shows of one event, with its exact times."""
    s, e = ev.window.start, ev.window.end
    what = f"{ev.description} {ev.count} times" if ev.kind == "blink" else ev.description
    return f"from {s:.2f} s to {e:.2f} s, {what}"


def dm_cot_text(scene: Scene, task: Task) -> str:
    """The assistant turn of a task's DM-CoT row (one retrieval, exact span and density)."""
    events = _events(scene, task)
    span, fps = task.span, task.fps
    request = f"<span>{span_text(span)}</span><fps>{fps}</fps>"
    if task.kind == "moment_retrieval":
        goal = f'I need the moment when "{task.question}".'
    else:
        evidence = "; ".join(e.description for e in events)
        goal = f'The question is "{asked(task.question)}" The evidence is when {evidence}.'
    look = (
        f"I will look at {span.start:.2f} - {span.end:.2f} s at {fps} fps, "
        f"{_density_reason(scene, events)}."
    )
    seen = "In these frames, " + "; ".join(_observed(e) for e in events) + "."
    if task.kind == "moment_retrieval":
        conclusion = (
            f"The frame at {span.start:.2f} s still shows the state before it and the frame at "
            f"{span.end:.2f} s the state after it, so the moment is {span_text(span)}."
        )
    else:
        assert task.answer_index is not None
        letter = LETTERS[task.answer_index]
        option = task.options[task.answer_index].rstrip(".")
        conclusion = f"So the answer is ({letter}) {option}."
    answer = dynframe_answer(task)
    return f"<think>{goal} {look} {request}<video>\n{seen} {conclusion}</think><answer>{answer}</answer>"


def dm_cot_rows(videos: list[WorldVideo]) -> list[dict[str, Any]]:
    """DM-CoT rows (ShareGPT, as released) for every task, in the order of the DM-RL rows."""
    rows: list[dict[str, Any]] = []
    for v in videos:
        for t in v.tasks:
            rows.append(
                {
                    "index": len(rows),
                    "task_id": t.task_id,
                    "video": [v.path],
                    "conversations": [
                        {"from": "human", "value": dynframe_prompt(t)},
                        {"from": "gpt", "value": dm_cot_text(v.scene, t)},
                    ],
                }
            )
    return rows


def grounder_rows(videos: list[WorldVideo]) -> list[dict[str, Any]]:
    """VideoMind grounder rows: every moment-retrieval query and its exact span."""
    return [
        {
            "video_path": v.path,
            "duration": round(v.scene.duration, 6),
            "query": t.question,
            "span": [[round(w.start, 6), round(w.end, 6)] for w in t.windows],
        }
        for v in videos
        for t in v.tasks
        if t.kind == "moment_retrieval"
    ]


def planner_route(scene: Scene, task: Task) -> int:
    """The route a planner should take for a task (VideoMind's four training routes):

    1. grounded QA — rephrase the question into the evidence event's description, ground, verify,
       answer;
    2. a multiple-choice question naming its one short event (counting blinks, a colour change) —
       the question itself is a good query: ground, verify, answer;
    3. moment retrieval — rephrase, ground, verify, no answer (the moment is the answer);
    4. evidence that is the whole video (which object appears first; where a slow mover ends up,
       a move over most of the video) — answer from the overview.
    """
    if task.kind == "moment_retrieval":
        return 3
    if task.kind == "grounded_qa":
        return 1
    events = _events(scene, task)
    return 4 if len(events) > 1 or scene.is_slow(events[0]) else 2


def planner_rows(videos: list[WorldVideo]) -> list[dict[str, Any]]:
    """VideoMind planner rows, one per task; ``query`` is set for routes 1 and 3 only."""
    rows: list[dict[str, Any]] = []
    for v in videos:
        for t in v.tasks:
            route = planner_route(v.scene, t)
            if t.kind == "moment_retrieval":
                question = f"When does this happen: {t.question}?"
            else:
                question = asked(t.question)
            query = None
            if route in (1, 3):
                query = "; ".join(e.description for e in _events(v.scene, t))
            rows.append(
                {
                    "video_path": v.path,
                    "duration": round(v.scene.duration, 6),
                    "question": question,
                    "query": query,
                    "route": route,
                }
            )
    return rows

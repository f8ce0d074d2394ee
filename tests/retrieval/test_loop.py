"""The DynFrame loop end to end on a synthetic video with tiny random models: prefilled requests
fetch exactly what the sampler gives, rejections are recorded and told in-band, budgets hold,
batching changes nothing, traces round-trip through JSON."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from framescope.fileio import write_json
from framescope.methods import METHODS, InferConfig, Sample, get_method
from framescope.models.engine import Engine
from framescope.models.tiny import FAMILIES
from framescope.retrieval.grammar import Budgets, format_request, rejection_note
from framescope.retrieval.loop import RetrievalSession, read_answer, run_loop, scripted
from framescope.types import Trace, Window
from framescope.video.cache import FrameCache
from framescope.video.sampling import sample

CONFIG = InferConfig(max_new_tokens=12, frame_cache=FrameCache())  # decoded frames shared


def prefilled(video: Path, window: Window, fps: float, ident: str = "s") -> Sample:
    return Sample(
        ident,
        str(video),
        "When does the circle move?",
        prefill=f"<think>Let me look closer. {format_request(window, fps)}",
    )


def timing_free(trace: Trace) -> dict[str, Any]:
    d = trace.to_dict()
    d.pop("seconds")
    for step in d["steps"]:
        step.pop("elapsed"), step.pop("fetch_seconds")
    return d


@pytest.mark.parametrize("family", FAMILIES)
def test_prefilled_request_fetches_what_sample_gives(
    family: str, backends: dict, demo: tuple, tmp_path: Path
) -> None:
    video, event = demo
    be = backends[family]
    (trace,) = run_loop(be, [prefilled(video, event, 4)], CONFIG)
    first = trace.steps[0]
    assert first.status == "fetched" and first.tokens_out == 0  # the request was all prefill
    assert first.forced == first.text and first.text.endswith(format_request(event, 4))
    assert first.request is not None and first.request.window == event
    want = sample(video, event, fps=4, max_frames=128, budget=be.pixel_budget())
    ev = first.evidence
    assert ev is not None and ev.timestamps == want.timestamps and ev.window == want.window
    assert ev.frame_size == want.frames.shape[1:3]
    assert trace.response.startswith(first.text + "<video>")
    assert trace.usage.rounds == 1
    assert trace.usage.visual_tokens == trace.overview.visual_tokens + ev.visual_tokens
    assert trace.steps[-1].status == "final" and trace.steps[-1].tokens_out == 12
    assert trace.usage.generated_tokens == 12 and trace.stop_reason == "length"
    write_json(tmp_path / "trace.json", trace.to_dict())
    assert Trace.from_dict(json.loads((tmp_path / "trace.json").read_text())) == trace


def test_overview_in_the_prompt(backends: dict, demo: tuple) -> None:
    video, _ = demo
    be = backends["qwen2_5_vl"]
    (trace,) = run_loop(be, [Sample("o", str(video), "Q?")], CONFIG)
    want = sample(video, fps=0.5, max_frames=64, budget=be.pixel_budget())
    assert trace.overview is not None and trace.overview.timestamps == want.timestamps
    assert trace.duration == pytest.approx(20.0) and trace.budgets == Budgets().report()


def run_rows(be: Any, samples: list[Sample], config: InferConfig, script: list[str] = ()):
    """The loop by hand, to see the engine's rows (the tokens the model really got)."""
    session = RetrievalSession(be, samples, config)
    hook = scripted(be, session.hook, script, every=3) if script else session.hook
    rows = Engine(be).generate(
        session.prompts, max_new_tokens=config.max_new_tokens, seeds=session.seeds, hook=hook
    )
    return session.finish(rows), rows


@pytest.mark.parametrize(
    "prefill, reason",
    [
        ("<span>9 - 3</span><fps>2</fps>", "window start 9 is not before its end 3"),
        ("<span>soon</span><fps>2</fps>", "cannot read a window 'start - end' in seconds"),
        ("<span>2 - 5</span><fps>45</fps>", "fps must be in (0, 30], got 45"),
        ("<span>40 - 50</span><fps>1</fps>", "outside the video"),
    ],
)
def test_rejected_requests_are_recorded_and_told_in_band(
    prefill: str, reason: str, backends: dict, demo: tuple
) -> None:
    video, _ = demo
    be = backends["qwen3_vl"]
    (trace,), (row,) = run_rows(be, [Sample("r", str(video), "Q?", prefill=prefill)], CONFIG)
    step = trace.steps[0]
    assert step.status == "rejected" and reason in step.reason and step.evidence is None
    note = rejection_note(step.reason)
    assert step.injected == note and step.tokens_in == len(be.encode_text(prefill + note))
    # the note is in the sequence the model continued from, as runtime tokens
    after = row.tokens[trace.usage.prompt_tokens :]
    assert be.decode(after[: step.tokens_in]) == prefill + note
    assert row.mask[trace.usage.prompt_tokens :][: step.tokens_in] == [0] * step.tokens_in
    assert trace.usage.rounds == 0 and trace.usage.rejected >= 1
    assert trace.usage.visual_tokens == trace.overview.visual_tokens


def test_token_budget_rejects_and_frame_cap_caps(backends: dict, demo: tuple) -> None:
    video, event = demo
    be = backends["qwen2_vl"]
    overview = run_loop(be, [Sample("o", str(video), "Q?")], CONFIG)[0].overview
    tight = replace(CONFIG, budgets=Budgets(max_visual_tokens=overview.visual_tokens + 5))
    (over,) = run_loop(be, [prefilled(video, event, 4)], tight)
    assert over.steps[0].status == "rejected"
    assert over.steps[0].reason.endswith("visual tokens, 5 left in the budget")
    capped = replace(CONFIG, budgets=Budgets(max_frames=8))
    (trace,) = run_loop(be, [prefilled(video, Window(0, 20), 30)], capped)
    ev = trace.steps[0].evidence
    assert ev.frames == 8 and any("capped at max_frames=8" in n for n in ev.notes)
    (clamped,) = run_loop(be, [prefilled(video, Window(15, 99), 1)], CONFIG)
    ev = clamped.steps[0].evidence
    assert ev.window.start == 15 and ev.window.end == pytest.approx(20.0)
    assert "clamped" in ev.notes[0]


def test_max_rounds_is_honoured(backends: dict, demo: tuple) -> None:
    """Four requests (one prefilled, three forced after 3 sampled tokens each): three fetched,
    the fourth rejected in-band."""
    video, _ = demo
    be = backends["qwen2_5_vl"]
    script = [format_request(Window(s, s + 2), 2) for s in (3, 8, 12)]
    config = replace(CONFIG, max_new_tokens=20)
    (trace,), _ = run_rows(be, [prefilled(video, Window(0, 2), 2)], config, script)
    statuses = [s.status for s in trace.steps]
    assert statuses == ["fetched", "fetched", "fetched", "rejected", "final"]
    assert "limit of 3 retrievals" in trace.steps[3].reason
    assert [s.request.window.start for s in trace.steps[:4]] == [0, 3, 8, 12]
    assert [s.tokens_out for s in trace.steps] == [0, 3, 3, 3, 11]
    assert trace.usage.rounds == 3 and len(trace.evidence) == 3


@pytest.mark.parametrize("family", ["qwen2_vl", "qwen3_vl"])
def test_batched_run_equals_one_by_one(family: str, backends: dict, demo: tuple) -> None:
    video, event = demo
    be = backends[family]
    samples = [
        prefilled(video, event, 4, "a"),
        Sample("b", str(video), "Which colour is the square?", options=("red", "green")),
        prefilled(video, Window(1, 5.5), 1, "c"),
    ]
    batched = run_loop(be, samples, replace(CONFIG, batch_size=3))
    single = run_loop(be, samples, replace(CONFIG, batch_size=1))
    assert [timing_free(t) for t in batched] == [timing_free(t) for t in single]
    rerun = run_loop(be, samples, replace(CONFIG, batch_size=3, continuation="rerun"))
    assert [timing_free(t) for t in rerun] == [timing_free(t) for t in batched]


def test_direct_method_never_retrieves(backends: dict, demo: tuple) -> None:
    video, event = demo
    (trace,) = get_method("direct").run(backends["qwen3_vl"], [prefilled(video, event, 4)], CONFIG)
    assert trace.method == "direct" and [s.status for s in trace.steps] == ["final"]
    assert trace.budgets is None and trace.usage.rounds == 0
    assert sorted(METHODS) == ["direct", "dynframe", "videomind"]


def test_unreadable_video_gets_an_error_trace(backends: dict, demo: tuple, tmp_path: Path) -> None:
    video, event = demo
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    traces = run_loop(
        backends["qwen2_vl"],
        [
            Sample("x", str(tmp_path / "none.mp4"), "Q?"),
            Sample("y", str(bad), "Q?"),
            prefilled(video, event, 2),
        ],
        CONFIG,
    )
    assert "no such file" in traces[0].error and traces[1].error and traces[2].error is None
    assert traces[0].steps == [] and traces[2].steps[0].status == "fetched"
    assert traces[0].to_prediction().error == traces[0].error


def test_read_answer() -> None:
    span = read_answer("<think>look <span>1 - 2</span><fps>2</fps></think><answer>3.5 - 7</answer>")
    assert span.text == "3.5 - 7" and span.windows == (Window(3.5, 7),) and span.letter is None
    mcq = read_answer("<think>hmm</think>\n(B) green", options=("red", "green"))
    assert mcq.letter == "B" and mcq.text == "(B) green"
    free = read_answer("A red circle.")
    assert free.letter is None and free.text == "A red circle." and free.windows == ()
    assert read_answer("<think>unfinished").text == ""

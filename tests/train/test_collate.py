"""Training sequences are built with the inference code, and exactly the assistant's own tokens
learn: hand-computed masks for DynFrame DM-CoT rows on all three families and for the VideoMind
roles; batching, truncation and bad rows."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
import torch

from framescope.agent.common import role_prompt
from framescope.agent.grounder import GROUNDER_REPLY, grounder_prompt
from framescope.agent.verifier import zoom
from framescope.data import read_grounder, read_planner, read_verifier
from framescope.data.collate import (
    IGNORE,
    VideoSettings,
    collate,
    dm_cot_example,
    grounder_example,
    planner_example,
    verifier_example,
)
from framescope.data.dynframe import parse_dm_cot_row
from framescope.errors import RecordError
from framescope.models.engine import row_positions
from framescope.models.hf import load_backend
from framescope.models.tiny import FAMILIES
from framescope.retrieval.grammar import Accepted, Budgets, Used, parse_request, validate
from framescope.retrieval.loop import splice
from framescope.video.probe import probe
from framescope.video.sampling import PixelBudget, sample

RESPONSE = (
    "<think>Look closer. <span>1.00 - 3.00</span><fps>2</fps><video>\nIt moves.</think>"
    "<answer>1.00 - 3.00</answer>"
)


@pytest.fixture(scope="module")
def backends(bases: dict[str, Path]) -> dict[str, Any]:
    return {family: load_backend(path) for family, path in bases.items()}


def cot_row(world: Path, response: str = RESPONSE) -> Any:
    row = {
        "video": ["videos/synth_s3_0000.mp4"],
        "conversations": [
            {"from": "human", "value": "<video>\nWhen does the square move?"},
            {"from": "gpt", "value": response},
        ],
    }
    return parse_dm_cot_row(row, world)


def settings(backend: Any) -> VideoSettings:
    return VideoSettings(fps=1.0, max_frames=8, budget=backend.pixel_budget())


@pytest.mark.parametrize("family", FAMILIES)
def test_dm_cot_mask_by_hand(family: str, backends: dict[str, Any], world: Path) -> None:
    """prompt (masked) + request text (learns) + the loop's splice (masked) + answer + <|im_end|>
    (learn); the prompt and the splice are token for token what inference builds."""
    be = backends[family]
    rec = cot_row(world)
    ex = dm_cot_example(be, rec, settings(be))

    info = probe(rec.video)
    overview = sample(info, fps=1.0, max_frames=8, budget=be.pixel_budget())
    prompt, _ = be.build_prompt("When does the square move?", [overview])
    first = be.encode_text("<think>Look closer. <span>1.00 - 3.00</span><fps>2</fps>")
    request = parse_request("<span>1.00 - 3.00</span><fps>2</fps>")
    decision = validate(request, info.duration, Budgets(), Used())
    assert isinstance(decision, Accepted)
    spliced = splice(be, info, decision, 256, be.pixel_budget())
    clip, times = spliced.segment, spliced.evidence.timestamps
    second = be.encode_text("\nIt moves.</think><answer>1.00 - 3.00</answer>")
    end = be.encode_text("<|im_end|>")

    assert ex.segment.token_ids == prompt.token_ids + first + clip.token_ids + second + end
    want = [0] * len(prompt) + [1] * len(first) + [0] * len(clip) + [1] * len(second) + [1]
    assert [int(label != IGNORE) for label in ex.labels] == want
    learned = [t for t, label in zip(ex.segment.token_ids, ex.labels) if label != IGNORE]
    assert learned == first + second + end
    assert [label for label in ex.labels if label != IGNORE] == learned
    # every vision token, marker and timestamp is injected; the request's </fps> learns
    for t, label in zip(ex.segment.token_ids, ex.labels):
        if t in (be.video_token_id, be.vision_start_id, be.vision_end_id):
            assert label == IGNORE
    close = be.encode_text("</fps>")[0]
    at = ex.segment.token_ids.index(close)
    assert ex.labels[at] == close and ex.labels[at + 1] == IGNORE
    if family == "qwen3_vl":  # a timestamp per 2-frame patch, else a header: injected text
        stamp = f"<{(times[0] + times[1]) / 2:.1f} seconds>"
    else:
        stamp = f"<{times[0]:.1f} - {times[-1]:.1f} seconds>"
    assert stamp in be.decode(clip.token_ids, skip_special_tokens=False)
    assert len(ex.segment.vision) == 2  # the overview, then the retrieved clip


def test_batch_pads_left_with_rope_positions(backends: dict[str, Any], world: Path) -> None:
    be = backends["qwen2_5_vl"]
    short = dm_cot_example(be, cot_row(world), settings(be))
    long = dm_cot_example(
        be, cot_row(world, RESPONSE.replace("It moves.", "It moves to the right.")), settings(be)
    )
    batch = collate(be, [short, long])
    n = batch.input_ids.shape[1]
    assert n == len(long.segment) and len(short.segment) < n
    pad = n - len(short.segment)
    assert batch.labels[0, :pad].eq(IGNORE).all() and batch.attention_mask[0, :pad].eq(0).all()
    assert batch.labels[0, pad:].tolist() == short.labels
    pos, _ = row_positions(be, short.segment.token_ids, short.segment.vision)
    assert torch.equal(batch.position_ids[:, 0, pad:], pos)
    assert batch.learned == short.learned + long.learned
    assert len(batch.vision) == 4


def test_thinking_template_does_not_double_think(backends: dict[str, Any], world: Path) -> None:
    be = backends["qwen3_vl"]
    template = be.processor.chat_template
    be.processor.chat_template = template.replace(
        "{%- if enable_thinking -%}{{- '<think>\\n' -}}{%- endif -%}", "{{- '<think>\\n' -}}"
    )
    try:
        ex = dm_cot_example(be, cot_row(world), settings(be))
    finally:
        be.processor.chat_template = template
    learned = [t for t, label in zip(ex.segment.token_ids, ex.labels) if label != IGNORE]
    assert be.decode(learned, skip_special_tokens=False).startswith("Look closer. <span>")


def test_truncation_never_splits_a_vision_block(backends: dict[str, Any], world: Path) -> None:
    be = backends["qwen2_vl"]
    full = dm_cot_example(be, cot_row(world), settings(be))
    pads = [i for i, t in enumerate(full.segment.token_ids) if t == be.video_token_id]
    last_block = full.segment.token_ids.index(be.vision_start_id, pads[0] + 1)  # the splice
    cut = dm_cot_example(
        be, cot_row(world), dataclasses.replace(settings(be), max_length=last_block + 3)
    )
    assert len(cut.segment.vision) == 1  # the retrieved clip went with its pixels
    assert be.video_token_id not in cut.segment.token_ids[last_block:]
    assert cut.segment.token_ids == full.segment.token_ids[: len(cut.segment)]
    row_positions(be, cut.segment.token_ids, cut.segment.vision)  # still a valid sequence


def test_bad_rows_name_the_problem(backends: dict[str, Any], world: Path) -> None:
    be = backends["qwen2_vl"]
    fast = RESPONSE.replace("<fps>2</fps>", "<fps>100</fps>")
    with pytest.raises(RecordError, match=r"retrieval 1 .*fps must be in"):
        dm_cot_example(be, cot_row(world, fast), settings(be))
    gone = dataclasses.replace(cot_row(world), videos=(world / "videos" / "missing.mp4",))
    with pytest.raises(RecordError, match=r"missing\.mp4"):
        dm_cot_example(be, gone, settings(be))


def role_settings(be: Any) -> VideoSettings:
    return VideoSettings(fps=1.0, max_frames=8, budget=PixelBudget(3136, 7056, 28))


def test_grounder_learns_its_reply_and_carries_spans(backends: dict[str, Any], world: Path) -> None:
    be = backends["qwen2_vl"]
    rec = read_grounder(world / "videomind/grounder.jsonl", data_root=world).records[0]
    ex = grounder_example(be, rec, role_settings(be))
    info = probe(rec.video)
    clip = sample(info, fps=1.0, max_frames=8, budget=PixelBudget(3136, 7056, 28))
    prompt, _ = role_prompt(be, grounder_prompt(rec.query), clip)
    reply = be.encode_text(GROUNDER_REPLY) + be.encode_text("<|im_end|>")
    assert ex.segment.token_ids == prompt.token_ids + reply
    assert ex.labels == [IGNORE] * len(prompt) + reply
    assert be.encode_text("<|reg|>")[0] in reply
    s, e = rec.span.start / info.duration, rec.span.end / info.duration
    assert ex.spans == ((pytest.approx(s), pytest.approx(e)),)
    assert ex.duration == pytest.approx(info.duration)


def test_verifier_markers_sit_inside_the_clip_and_get_no_loss(
    backends: dict[str, Any], world: Path
) -> None:
    be = backends["qwen2_vl"]
    seg = (be.encode_text("<|seg_start|>")[0], be.encode_text("<|seg_end|>")[0])
    rope = be.rope
    be.rope = dataclasses.replace(rope, markers=frozenset(seg))  # as the role recipes set it
    try:
        recs = read_verifier(world / "videomind/verifier.jsonl", data_root=world).records
        yes = next(r for r in recs if r.label == "Yes")
        no = next(r for r in recs if r.label == "No" and r.candidate.start > 2)
        for rec in (yes, no):
            ex = verifier_example(be, rec, role_settings(be))
            ids = ex.segment.token_ids
            reply = be.encode_text(rec.label) + be.encode_text("<|im_end|>")
            assert [t for t, label in zip(ids, ex.labels) if label != IGNORE] == reply
            assert ids[-len(reply) :] == reply
            pads = [i for i, t in enumerate(ids) if t == be.video_token_id]
            for marker in seg:  # inside the visual tokens, masked
                at = ids.index(marker)
                assert pads[0] - 1 <= at <= pads[-1] + 1 and ex.labels[at] == IGNORE
            row_positions(be, ids, ex.segment.vision)
        info = probe(no.video)
        assert zoom(no.candidate, info.duration).window.start > 0
    finally:
        be.rope = rope


def test_planner_learns_its_json_plan(backends: dict[str, Any], world: Path) -> None:
    be = backends["qwen2_5_vl"]
    recs = read_planner(world / "videomind/planner.jsonl", data_root=world).records
    for rec in {r.route: r for r in recs}.values():  # one of each route
        ex = planner_example(be, rec, role_settings(be))
        reply = be.encode_text(rec.response()) + be.encode_text("<|im_end|>")
        assert [t for t, label in zip(ex.segment.token_ids, ex.labels) if label != IGNORE] == reply
        assert ex.labels[-len(reply) :] == reply


def test_the_request_window_is_clamped_as_the_loop_clamps_it(
    backends: dict[str, Any], world: Path
) -> None:
    """A request past the video's end is served with the window clamped to the video: every
    patch time of the spliced clip lies inside the last two seconds."""
    be = backends["qwen3_vl"]
    info = probe(world / "videos/synth_s3_0000.mp4")
    late = RESPONSE.replace("1.00 - 3.00</span>", f"{info.duration - 2:.2f} - 99.00</span>", 1)
    ex = dm_cot_example(be, cot_row(world, late), settings(be))
    ids = ex.segment.token_ids
    after = ids.index(be.encode_text("</fps>")[0]) + 1
    text = be.decode(ids[after:], skip_special_tokens=False)
    times = [float(t) for t in re.findall(r"<([0-9.]+) seconds>", text)]
    assert times and all(info.duration - 2 <= t <= info.duration for t in times)

"""SD-GRPO rewards by hand-computed cases, and the released example row scored end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from framescope.data import DMRLRecord, read_dm_rl
from framescope.retrieval.grammar import InvalidRequest
from framescope.train.grpo.rewards import (
    RELEASED_WEIGHTS,
    SD_GRPO_WEIGHTS,
    accuracy_reward,
    format_reward,
    fps_reward,
    grounding_scale,
    requests_in,
    score,
    span_iou_reward,
    weighted_sum,
)
from framescope.types import RetrievalRequest, Window


def _rec(answer: str = "0.00 - 8.00", fps: float = 3, span=(0.0, 8.0)) -> DMRLRecord:
    return DMRLRecord("<video>\nq", Path("v.mp4"), answer, fps, span[0], span[1])


def test_format_reward_as_released():
    texts = [
        "<think>a</think><answer>B</answer>",
        " <think>a</think><answer>B</answer>",  # not first: no think score
        "<think>a<span>1 - 2</span><fps>2</fps><video>b</think><answer>B</answer>",
        "<think>a<span>1 - 2</span><video>b</think><answer>B",  # <span> without <fps>, open answer
        "<think>a <span>1 - 2<fps>2</fps></think><answer>x</answer>",  # unclosed span
        "",  # nothing unpaired: the pairing 0.2 only
    ]
    assert format_reward(texts) == pytest.approx([1.0, 0.6, 1.0, 0.4, 0.8, 0.2])


def test_grounding_buckets_and_their_edges():
    # (a, b) = (0.6, 0.95) below 5 s, (0.5, 0.9) below 15 s, (0.4, 0.85) below 30 s, else (0.3, 0.8)
    assert grounding_scale(0.7, 4.99) == pytest.approx(0.1 / 0.35)
    assert grounding_scale(0.7, 5.0) == pytest.approx(0.2 / 0.4)
    assert grounding_scale(0.7, 14.99) == pytest.approx(0.5)
    assert grounding_scale(0.7, 15.0) == pytest.approx(0.3 / 0.45)
    assert grounding_scale(0.7, 29.99) == pytest.approx(0.3 / 0.45)
    assert grounding_scale(0.7, 30.0) == pytest.approx(0.4 / 0.5)
    assert grounding_scale(0.96, 2.0) == 1.0 and grounding_scale(0.6, 2.0) == 0.0


def test_accuracy_grounding_by_hand():
    rec = _rec()  # GT 0-8 s: (a, b) = (0.5, 0.9)
    texts = [
        "<think>x</think><answer>0.00 - 8.00</answer>",  # IoU 1
        "<answer>0 - 6</answer>",  # IoU 0.75 -> 0.625
        "<answer>2 - 10</answer>",  # IoU 6/10 -> 0.25
        "<answer>from 0 to 4 seconds</answer>",  # IoU 0.5 -> 0
        "<answer>8 - 2</answer>",  # reversed: IoU 0
        "<answer>soon</answer>",
        "0 - 8",  # no answer block
    ]
    assert accuracy_reward(texts, [rec] * len(texts)) == pytest.approx(
        [1.0, 0.625, 0.25, 0.0, 0.0, 0.0, 0.0]
    )


def test_accuracy_multiple_choice_is_exact_match():
    rec = _rec(answer="B")
    texts = ["<answer> b </answer>", "<answer>(B)</answer>", "<answer>C</answer>", "B"]
    assert accuracy_reward(texts, [rec] * 4) == [1.0, 0.0, 0.0, 0.0]


def test_fps_and_span_rewards_read_the_first_request():
    rec = _rec()  # fps 3, GT 0-8
    texts = [
        "<span>0 - 8</span><fps>3</fps><video>",
        "<span>2 - 10</span><fps>1</fps>",  # IoU 0.6, |Δfps| 2 -> 0.6
        "<span>2-10</span><fps>10</fps><video> <span>0 - 8</span><fps>3</fps>",  # first counts
        "<span>soon</span><fps>3</fps><video><span>0 - 8</span><fps>3</fps>",  # unreadable first
        "<think>no retrieval</think>",
    ]
    recs = [rec] * len(texts)
    assert fps_reward(texts, recs) == pytest.approx([1.0, 0.6, 0.0, 0.0, 0.0])
    assert span_iou_reward(texts, recs) == pytest.approx([1.0, 0.6, 0.6, 0.0, 0.0])
    assert isinstance(requests_in(texts[3])[0], InvalidRequest)
    # the loop's parsed requests, when given, are used instead of the text
    given = [[RetrievalRequest(Window(4, 8), 2.0)], []]
    assert fps_reward(["", ""], [rec, rec], given) == pytest.approx([0.8, 0.0])
    assert span_iou_reward(["", ""], [rec, rec], given) == pytest.approx([0.5, 0.0])
    with pytest.raises(ValueError, match="2 records for 1 completions"):
        fps_reward(["x"], [rec, rec])


def test_weights_and_table():
    rec = _rec()
    good_look_wrong_answer = (
        "<think>a<span>0 - 8</span><fps>3</fps><video>b</think><answer>20 - 30</answer>"
    )
    table = score(["format", "accuracy", "fps", "span_iou"], [good_look_wrong_answer], [rec])
    assert table == {"format": [1.0], "accuracy": [0.0], "fps": [1.0], "span_iou": [1.0]}
    assert weighted_sum(table, RELEASED_WEIGHTS) == pytest.approx([0.1 + 0.3])
    assert weighted_sum(table, SD_GRPO_WEIGHTS) == pytest.approx([0.1 + 0.3 + 0.3])
    with pytest.raises(ValueError, match="unknown reward"):
        score(["speed"], ["x"], [rec])


def test_released_example_row_scored_end_to_end(dynframe_examples):
    (rec, *_) = read_dm_rl(dynframe_examples / "dm_rl_charades_fps_grpo.jsonl").records
    text = (
        "<think>A laptop opens early. <span>0.00 - 8.00</span><fps>3</fps><video>\n"
        "It opens from the start.</think><answer>0.00 - 8.00</answer>"
    )
    table = score(list(RELEASED_WEIGHTS), [text], [rec])
    assert weighted_sum(table, RELEASED_WEIGHTS) == pytest.approx([1.0])

"""Rope positions with markers inside a video run (VideoMind's <|seg_start|>/<|seg_end|>): the rule
transformers 4.45 applied when the verifier was trained, checked against hand-computed ids."""

from __future__ import annotations

import pytest
import torch

from framescope.errors import ModelError
from framescope.models.rope import RopeSpec, rope_index

IMG, VID, TXT, VS, VE, S, E = 8, 9, 1, 2, 3, 5, 6  # VS/VE: <|vision_start|>/<|vision_end|>


def spec(markers: bool = True, family: str = "qwen2_vl") -> RopeSpec:
    return RopeSpec(family, IMG, VID, 2, 2.0, frozenset({S, E}) if markers else frozenset())


def positions(seq: list[int], grid: list[int], markers: bool = True, **kw: object) -> list:
    pos, delta = rope_index(
        spec(markers, **kw), torch.tensor([seq]), video_grid_thw=torch.tensor([grid])
    )
    return [pos[:, 0].tolist(), int(delta[0, 0])]


GRID = [2, 2, 4]  # 2 temporal patches of 1×2 merged tokens: 4 visual tokens, 2 per patch


def test_markers_inside_take_grid_cells_and_the_last_tokens_spill() -> None:
    # text text VS | v v S v v E | VE text: S before patch 1, E after patch 2 (the end)
    seq = [TXT, TXT, VS, VID, VID, S, VID, VID, E, VE, TXT]
    (t, h, w), delta = positions(seq, GRID)
    # the block's 4 cells go to the 4 tokens from the first visual one (v v S v), start 3:
    # t 3 3 4 4 / h 3 3 3 3 / w 3 4 3 4; then the spilled v, E, VE and text continue at 5
    assert t == [0, 1, 2, 3, 3, 4, 4, 5, 6, 7, 8]
    assert h == [0, 1, 2, 3, 3, 3, 3, 5, 6, 7, 8]
    assert w == [0, 1, 2, 3, 4, 3, 4, 5, 6, 7, 8]
    assert delta == 9 - 11


def test_two_markers_inside_spill_two_tokens() -> None:
    # 3 patches of 2 tokens; S before patch 1, E before patch 2: both inside the run
    seq = [VS, VID, VID, S, VID, VID, E, VID, VID, VE]
    (t, h, w), delta = positions(seq, [3, 2, 4])
    # cells over v v S v v E (start 1): t 1 1 2 2 3 3, h 1…, w 1 2 1 2 1 2; v v VE at 4, 5, 6
    assert t == [0, 1, 1, 2, 2, 3, 3, 4, 5, 6]
    assert h == [0, 1, 1, 1, 1, 1, 1, 4, 5, 6]
    assert w == [0, 1, 2, 1, 2, 1, 2, 4, 5, 6]
    assert delta == 7 - 10


def test_a_block_opening_with_a_marker_becomes_text() -> None:
    # candidate starting at the window start: S right after <|vision_start|>; 4.45 then counts
    # no video block at all and the whole (single-clip) sequence gets text ids
    seq = [TXT, VS, S, VID, VID, E, VID, VID, VE, TXT]
    (t, h, w), delta = positions(seq, GRID)
    assert t == h == w == list(range(10)) and delta == 0
    both = [VS, S, E, VID, VID, VID, VID, VE]  # start and end both at patch 0
    (t, h, w), delta = positions(both, GRID)
    assert t == h == w == list(range(8)) and delta == 0


def test_markers_after_the_run_are_text_and_the_block_is_untouched() -> None:
    seq = [VS, VID, VID, VID, VID, S, E, VE]  # both marks at the last patch boundary
    (t, h, w), _ = positions(seq, GRID)
    assert t == [0, 1, 1, 2, 2, 3, 4, 5]
    assert h == [0, 1, 1, 1, 1, 3, 4, 5]
    assert w == [0, 1, 2, 1, 2, 3, 4, 5]


def test_markers_in_text_are_text_and_no_markers_means_the_reference_rule() -> None:
    plain = [TXT, VS, VID, VID, VID, VID, VE, S, TXT, E]  # the prompt names the tokens in text
    with_markers = positions(plain, GRID)
    assert with_markers == positions(plain, GRID, markers=False)
    assert with_markers[0][0] == [0, 1, 2, 2, 3, 3, 4, 5, 6, 7]


def test_qwen2_5_vl_temporal_ids_scale_the_same_way() -> None:
    seq = [VS, VID, VID, S, VID, VID, E, VE]
    pos, _ = rope_index(
        spec(family="qwen2_5_vl"),
        torch.tensor([seq]),
        video_grid_thw=torch.tensor([GRID]),
        second_per_grid_ts=[1.0],  # 2 fps: patch 1 is 1 s later, 2 ids per second: +2
    )
    assert pos[0, 0].tolist() == [0, 1, 1, 3, 3, 4, 5, 6]


def test_broken_runs_raise() -> None:
    with pytest.raises(ModelError, match="consecutive"):  # markers not declared: refused as before
        positions([VS, VID, S, VID, VID, VID, VE], GRID, markers=False)
    with pytest.raises(ModelError, match="interrupts"):  # text inside the spilled part
        positions([VS, VID, S, VID, VID, TXT, VID, VE], GRID)
    with pytest.raises(ModelError, match="ends inside"):
        positions([VS, VID, S, VID, VID], GRID)

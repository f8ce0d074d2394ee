"""3-D rope positions (temporal, height, width) for a full Qwen-VL sequence, by the reference rule.

Qwen-VL language models rotate each token by three position ids. Text tokens get the same id on all
three axes; the merged tokens of a vision block get ``start + (t, h, w)`` over the block's grid.
The rule the released checkpoints were trained with (Qwen's own code, transformers 4.x):

- a block starts at the next free id ``s`` (one after the previous token's largest id);
- its ids are ``t' = s + T(t)``, ``h' = s + h``, ``w' = s + w`` with ``T(t) = t`` for Qwen2-VL,
  ``T(t) = long(t · second_per_grid_ts · tokens_per_second)`` (float32, truncated) for Qwen2.5-VL
  videos and ``0`` for images; Qwen3-VL splits each video into one block per temporal patch
  (``T = 0`` each; the patches are separated by their ``<t seconds>`` text);
- the token after a block starts at the block's **largest id + 1**.

Worked example (the Qwen2.5-VL authors'): 3 temporal patches of 2×2 merged tokens at 1 fps give
``second_per_grid_ts = 2 / 1 = 2``; with ``tokens_per_second = 25`` the temporal ids are 0, 50,
100, the height/width ids 0–1, and the text after the block starts at 101.

**transformers 5.23 deviates after videos (Qwen2-VL and Qwen2.5-VL).** Its ``get_rope_index``
advances the next free id by ``max(h, w)`` merged tokens after *any* block instead of
``max(T_last, h - 1, w - 1) + 1``. For images and for Qwen3-VL's one-patch blocks the two agree.
For a multi-patch video they differ: in the worked example 5.23 starts the text at 2 (reusing
ids 2…100 that the clip's temporal axis already holds) instead of 101; for a 4-patch 2×2 Qwen2-VL
clip starting at 7 the clip spans 7…10 and 5.23 continues at 9 (reference: 11). The
``rope_deltas`` it derives inherit the error, so every later token (the answer, a second clip) is
shifted too. framescope therefore computes positions itself (:func:`rope_index`) and passes them
explicitly; for Qwen3-VL it matches transformers exactly.

**Passing positions to transformers 5.23** (all three families):

- ``model(input_ids, attention_mask=mask, position_ids=pos, pixel_values_videos=…,
  video_grid_thw=…)`` with ``pos`` ``(3, B, L)``: an explicit ``position_ids`` skips the model's own
  ``compute_3d_position_ids`` (``mm_token_type_ids`` and ``second_per_grid_ts`` are then unused).
  A ``(4, B, L)`` tensor would be read as ``[text positions for the mask; t; h; w]`` — pass 3 rows.
- Continuing from a cache: compute ``pos`` over the *full* sequence, feed only the new tokens with
  ``position_ids=pos[..., past:]``, the full-length ``attention_mask``, ``cache`` (5.24 renamed ``past_key_values``) and only
  the new clips' pixels and grids. The cache offset comes from the cache; no
  ``cache_position`` is needed.
- ``generate(input_ids=full, attention_mask=full, position_ids=pos, cache=cache, …)``:
  generate slices ``pos[..., cache_len:]`` for the prefill and then extends each axis by
  ``last + 1`` per new token, which is the reference rule because the prompt ends in text. Without
  explicit positions generate calls the model's 5.23 ``get_rope_index`` instead.
- The returned ``deltas`` follow 5.23's convention (``next id − number of unpadded tokens``): a
  token at unpadded index ``k`` after the prompt has id ``k + delta`` on every axis.

**Markers inside a video run** (``RopeSpec.markers``; VideoMind's Verifier inserts
``<|seg_start|>``/``<|seg_end|>`` between the temporal patches of its clip). Its checkpoints were
trained and released with transformers 4.45's ``get_rope_index``, which finds a block by its first
vision token and lays the block's ``t·h·w`` grid ids over the next ``t·h·w`` tokens *whatever they
are*; the markers inside therefore take grid cells, the block's last vision tokens (one per marker
inside) spill past the grid and get text ids (``max + 1`` on), like the tokens after them. A block
whose first token after ``<|vision_start|>`` is a marker (a candidate starting at the window's
start) is not counted as a block by 4.45 at all: with the single clip the Verifier sends, every
position of the sequence becomes a text id (``0 … L−1``). framescope reproduces both, because the
verifier weights were trained on exactly these positions; without markers nothing changes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from framescope.errors import ModelError
from framescope.families import FAMILIES as REGISTRY
from framescope.families import NAMES

FAMILIES = NAMES  # the families a rope rule exists for: all of framescope.families


@dataclass(frozen=True)
class RopeSpec:
    """What the position rule needs from a model config."""

    family: str
    image_token_id: int
    video_token_id: int
    spatial_merge_size: int = 2
    tokens_per_second: float = 2.0  # Qwen2.5-VL only: temporal ids per second of video
    # tokens that may sit inside a video run (VideoMind's seg tokens); see the module docstring
    markers: frozenset[int] = frozenset()

    @classmethod
    def from_config(cls, config: Any) -> RopeSpec:
        """Read the spec from a Qwen2-VL / Qwen2.5-VL / Qwen3-VL ``config``."""
        family = config.model_type
        if family not in FAMILIES:
            raise ModelError(f"no 3-D rope rule for model type {family!r}")
        vision = config.vision_config
        return cls(
            family=family,
            image_token_id=config.image_token_id,
            video_token_id=config.video_token_id,
            spatial_merge_size=vision.spatial_merge_size,
            tokens_per_second=(
                float(vision.tokens_per_second) if REGISTRY[family].grid_seconds else 2.0
            ),
        )


@dataclass(frozen=True)
class _Block:
    token_id: int
    grid: tuple[int, int, int]  # merged (t, h, w)
    seconds_per_patch: float | None  # Qwen2.5-VL videos only


def _blocks(
    spec: RopeSpec,
    image_grid_thw: torch.Tensor | None,
    video_grid_thw: torch.Tensor | None,
    second_per_grid_ts: Sequence[float] | torch.Tensor | None,
) -> tuple[list[_Block], list[_Block]]:
    """Image blocks and video blocks in sequence order, on the merged grid."""
    m = spec.spatial_merge_size
    images = [
        _Block(spec.image_token_id, (int(t), int(h) // m, int(w) // m), None)
        for t, h, w in (image_grid_thw.tolist() if image_grid_thw is not None else [])
    ]
    grids = video_grid_thw.tolist() if video_grid_thw is not None else []
    seconds = [float(s) for s in second_per_grid_ts] if second_per_grid_ts is not None else []
    fam = REGISTRY[spec.family]
    if fam.grid_seconds and len(seconds) != len(grids):
        raise ModelError(f"{fam.name} needs one second_per_grid_ts per video ({len(grids)} videos)")
    videos: list[_Block] = []
    for k, (t, h, w) in enumerate(grids):
        if fam.text_timestamps:  # one block per temporal patch, each behind its timestamp
            videos += [_Block(spec.video_token_id, (1, h // m, w // m), None)] * int(t)
        else:
            per_patch = seconds[k] if fam.grid_seconds else None
            videos.append(_Block(spec.video_token_id, (t, h // m, w // m), per_patch))
    return images, videos


def _block_ids(block: _Block, start: int, tokens_per_second: float) -> torch.Tensor:
    """Ids ``(3, t·h·w)`` of one vision block starting at ``start``."""
    t, h, w = block.grid
    steps = torch.arange(t)
    if block.seconds_per_patch is not None:
        # float32 and truncation, in the reference's order: (t · seconds) · tokens_per_second
        steps = (steps * block.seconds_per_patch * tokens_per_second).long()
    grid = torch.stack(
        torch.meshgrid(steps, torch.arange(h), torch.arange(w), indexing="ij")
    )  # (3, t, h, w)
    return grid.reshape(3, -1) + start


@dataclass
class _Spill:
    """Vision tokens of the current block still to come as text (the release rule for markers)."""

    token_id: int = -1
    left: int = 0

    def start(self, token_id: int, count: int) -> None:
        self.token_id, self.left = token_id, count


def _text_end(
    ids: list[int],
    i: int,
    queues: dict[int, Iterator[_Block]],
    markers: frozenset[int],
    spill: _Spill,
    row: int,
) -> int:
    """End of the text run starting at ``i``: up to the next block start. Spilled vision tokens
    and markers are text; a marker that opens a block (right before its first vision token)
    makes the whole block text, as 4.45 did (see the module docstring)."""
    j = i
    while j < len(ids):
        token = ids[j]
        if spill.left:
            if token == spill.token_id:
                spill.left -= 1
            elif token not in markers:
                raise ModelError(
                    f"row {row}: token {token} at {j} interrupts a vision block "
                    f"(only markers {sorted(markers)} may sit inside one)"
                )
        elif token in queues:
            break
        elif token in markers and (j == 0 or ids[j - 1] not in queues):
            k = j
            while k < len(ids) and ids[k] in markers:
                k += 1
            if k < len(ids) and ids[k] in queues:  # the block opens with a marker
                block = next(queues[ids[k]], None)
                if block is None:
                    raise ModelError(f"row {row}: more vision blocks than grids (token at {k})")
                spill.start(block.token_id, block.grid[0] * block.grid[1] * block.grid[2])
        j += 1
    return j


def rope_index(
    spec: RopeSpec,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    image_grid_thw: torch.Tensor | None = None,
    video_grid_thw: torch.Tensor | None = None,
    second_per_grid_ts: Sequence[float] | torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """3-D positions of a full (batched, possibly left-padded) sequence by the reference rule.

    ``input_ids`` ``(B, L)``; ``attention_mask`` ``(B, L)`` (0 = padding, anywhere); grids
    ``(N, 3)`` as the processor returns them (unmerged patches), consumed in sequence order over
    the batch rows; ``second_per_grid_ts`` ``(N_videos,)`` for Qwen2.5-VL. Vision tokens are found
    by id, so the sequence may hold any number of clips anywhere (clips spliced mid-turn included).

    Returns ``positions`` ``(3, B, L)`` (padding gets 0) and ``deltas`` ``(B, 1)``: the next id
    minus the number of unpadded tokens (transformers' ``rope_deltas`` convention).
    """
    if spec.family not in FAMILIES:
        raise ModelError(f"no 3-D rope rule for family {spec.family!r}")
    if input_ids.ndim != 2:
        raise ModelError(f"input_ids must be (B, L), got {tuple(input_ids.shape)}")
    images, videos = _blocks(spec, image_grid_thw, video_grid_thw, second_per_grid_ts)
    queues: dict[int, Iterator[_Block]] = {
        spec.image_token_id: iter(images),
        spec.video_token_id: iter(videos),
    }
    batch, length = input_ids.shape
    positions = torch.zeros(3, batch, length, dtype=torch.long)
    deltas = torch.zeros(batch, 1, dtype=torch.long)
    for b in range(batch):
        keep = (
            attention_mask[b].bool().cpu()
            if attention_mask is not None
            else torch.ones(length, dtype=torch.bool)
        )
        ids = input_ids[b].cpu()[keep].tolist()
        row = torch.empty(3, len(ids), dtype=torch.long)
        i, nxt = 0, 0  # token index, next free id
        spill = _Spill()  # vision tokens past the last block's grid (markers took their cells)
        while i < len(ids):
            if ids[i] not in queues or spill.left:  # a run of text: consecutive ids on all axes
                j = _text_end(ids, i, queues, spec.markers, spill, b)
                row[:, i:j] = torch.arange(nxt, nxt + j - i)
                i, nxt = j, nxt + j - i
                continue
            block = next(queues[ids[i]], None)
            if block is None:
                raise ModelError(f"row {b}: more vision blocks than grids (token {ids[i]} at {i})")
            n = block.grid[0] * block.grid[1] * block.grid[2]
            inside = ids[i : i + n]
            if inside != [block.token_id] * n and (
                len(inside) != n
                or any(t != block.token_id and t not in spec.markers for t in inside)
            ):
                raise ModelError(
                    f"row {b}: vision block at token {i} should be {n} consecutive tokens "
                    f"{block.token_id} (grid {block.grid}), the sequence says otherwise"
                )
            marked = n - inside.count(block.token_id)  # markers inside the grid's span
            block_ids = _block_ids(block, nxt, spec.tokens_per_second)
            row[:, i : i + n] = block_ids  # markers inside take the cells they land on (4.45)
            spill.start(block.token_id, marked)
            i, nxt = i + n, int(block_ids.max()) + 1
        if spill.left:
            raise ModelError(f"row {b}: the sequence ends inside a vision block")
        positions[:, b, keep] = row
        deltas[b, 0] = nxt - len(ids)
    for token_id, queue in queues.items():
        if next(queue, None) is not None:
            raise ModelError(f"more grids than vision blocks of token {token_id} in the sequence")
    return positions.to(input_ids.device), deltas.to(input_ids.device)

"""What VideoMind's timestamp head reads, taken from a Qwen-VL forward pass.

The head (:mod:`framescope.models.timestamp_head`) takes the language model's hidden states
*before* its final RMSNorm: the first video's visual tokens average-pooled per temporal patch
(:func:`pool_video_features`) and the state at the position that predicts ``<|reg|>`` (the last
position of the step that generated it; :func:`reg_query_positions` for teacher-forced rows).
transformers 5.x reports the *normed* last state in ``hidden_states``, so the pre-norm state is
captured with a hook on the final norm (:class:`PreNormCapture`), as the release did.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from framescope.errors import ModelError


def pool_video_features(
    hidden: Tensor,
    input_ids: Tensor,
    video_grid_thw: Tensor,
    video_token_id: int,
    merge_size: int = 2,
) -> tuple[Tensor, Tensor]:
    """Each row's *first* video, average-pooled per temporal patch: ``(features, mask)``.

    ``hidden``: (B, L, H) pre-norm states; ``input_ids``: (B, L); ``video_grid_thw``: (V, 3)
    for every video of the batch in row order, as the processor returns it. A video of grid
    ``(t, h, w)`` is ``t·h·w/merge²`` consecutive ``video_token_id`` tokens, ``h·w/merge²`` per
    temporal patch. Returns features (B, T_max, H) (mean in float32, cast back) and mask
    (B, T_max) bool, padded at the end. Rows without a video are an error.
    """
    grids = video_grid_thw.tolist()
    per_patch = [h * w // merge_size**2 for _, h, w in grids]
    next_grid, feats = 0, []
    for row in range(input_ids.shape[0]):
        where = (input_ids[row] == video_token_id).nonzero()[:, 0]
        if len(where) == 0:
            raise ModelError(f"row {row} has no video tokens (id {video_token_id})")
        first, used = next_grid, 0
        while used < len(where):  # consume this row's grid entries
            if next_grid >= len(grids):
                raise ModelError("video_grid_thw lists fewer videos than the video tokens need")
            used += grids[next_grid][0] * per_patch[next_grid]
            next_grid += 1
        if used != len(where):
            raise ModelError(
                f"row {row}: {len(where)} video tokens do not match its grids in video_grid_thw"
            )
        t, n = grids[first][0], per_patch[first]
        tokens = hidden[row, where[: t * n]].float().view(t, n, -1)
        feats.append(tokens.mean(1).to(hidden.dtype))  # (T, H)
    if next_grid != len(grids):
        raise ModelError(f"video_grid_thw has {len(grids)} videos, the tokens use {next_grid}")
    t_max = max(len(f) for f in feats)
    out = hidden.new_zeros(len(feats), t_max, hidden.shape[-1])
    mask = torch.zeros(len(feats), t_max, dtype=torch.bool, device=hidden.device)
    for row, f in enumerate(feats):
        out[row, : len(f)], mask[row, : len(f)] = f, True
    return out, mask


def reg_query_positions(input_ids: Tensor, reg_token_id: int) -> Tensor:
    """(B,) for teacher-forced rows: the position whose next token is the first ``<|reg|>``."""
    hits = input_ids[:, 1:] == reg_token_id
    if not bool(hits.any(1).all()):
        raise ModelError(f"every row needs a <|reg|> token (id {reg_token_id}) after position 0")
    return hits.int().argmax(1)


class PreNormCapture:
    """Records the input of the language model's final norm on every forward call.

    transformers 5.x returns the *normed* last state in ``hidden_states``; the head reads the
    state before the norm. ``with PreNormCapture(model) as cap: model(...)`` then
    ``cap.states[-1]`` is (B, L, H) for a full forward, (B, 1, H) for a cached decoding step.
    Works on the plain transformers model and on a peft wrapper around it.
    """

    def __init__(self, model: nn.Module) -> None:
        decoder = model.get_decoder()  # type: ignore[operator]
        if not isinstance(getattr(decoder, "norm", None), nn.Module):
            raise ModelError(f"{type(decoder).__name__} has no final `norm` to read states from")
        self.norm: nn.Module = decoder.norm
        self.states: list[Tensor] = []
        self._handle: Any = None

    def __enter__(self) -> PreNormCapture:
        self._handle = self.norm.register_forward_pre_hook(
            lambda _module, args: self.states.append(args[0])
        )
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.remove()

"""The transformers backend for Qwen2-VL, Qwen2.5-VL and Qwen3-VL checkpoints in a local folder.

:func:`load_backend` reads ``config.json``, picks the loader registered for its ``model_type``
(:data:`LOADERS`) and loads the processor and model with ``from_pretrained`` from disk only.
A VideoMind folder (``agent_qwen2_vl``, the released layout) loads its base Qwen2-VL through the
same path, wraps it with the role adapters in place and attaches the loaded
:class:`~framescope.models.videomind_ckpt.VideoMind` (roles, timestamp head, token ids) as
``HFBackend.videomind``; its ``<|seg_start|>``/``<|seg_end|>`` become rope markers
(:mod:`framescope.models.rope`). Every method runs on it; ``videomind`` needs it.

Vision blocks are laid out here, not by the processor's text expansion: the family's *video
processor* turns the clip's frames into ``pixel_values_videos`` and ``video_grid_thw`` (no frame
sampling, no resize: framescope's sampler already sized the frames to multiples of the family's
factor within :meth:`HFBackend.pixel_budget`, so the grid is ``(frames/2, H/p, W/p)``), and the
token ids are built from the grid and the clip's **absolute** timestamps:

- **Qwen3-VL** (the layout of Qwen's reference processor, which DynFrame splices): per temporal
  patch ``<{t:.1f} seconds><|vision_start|>`` + ``h·w/4`` × ``<|video_pad|>`` + ``<|vision_end|>``,
  ``t`` the mean of the patch's two frame times. transformers 5.x would keep an extra outer
  ``<|vision_start|>…<|vision_end|>`` from the template; the reference replaces the whole
  placeholder, and so do we.
- **Qwen2-VL / Qwen2.5-VL**: ``<|vision_start|>`` + ``t·h·w/4`` × ``<|video_pad|>`` +
  ``<|vision_end|>``. These families have no text timestamps, so a clip that does not start at
  0 s (its sampled window starts later: every retrieved span) is preceded by the text header
  ``<{first:.1f} - {last:.1f} seconds>`` (its first and last frame times) — the same rule in the
  prompt and in splices; a whole-video overview gets no header, as these checkpoints were trained.
  Qwen2.5-VL's ``second_per_grid_ts`` is ``2 / clip fps`` with the clip's own rate
  (:func:`~framescope.models.backend.clip_fps`), not frames over the whole video.

The prompt is the checkpoint's own chat template (system prompt and thinking behaviour as the
template has them) with each ``<|vision_start|><|video_pad|><|vision_end|>`` replaced by a block.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from framescope.errors import ModelError
from framescope.families import FAMILIES
from framescope.models import folders
from framescope.models.backend import (
    ClipBlock,
    ForwardOutput,
    Segment,
    VisionInput,
    clip_fps,
    patch_times,
)
from framescope.models.folders import model_folder
from framescope.models.head_features import PreNormCapture
from framescope.models.rope import RopeSpec
from framescope.types import Clip, Evidence
from framescope.video.sampling import PixelBudget

if TYPE_CHECKING:
    from framescope.models.videomind_ckpt import VideoMind

PLACEHOLDER = "<|vision_start|><|video_pad|><|vision_end|>"  # what the templates write per video
DTYPES: dict[str, Any] = {
    "auto": "auto",
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}


class HFBackend:
    """A Qwen-VL processor + model pair (see the module docstring for the block layout)."""

    def __init__(self, processor: Any, model: Any, family: str) -> None:
        self.processor = processor
        self.model = model.eval()
        self.family = family
        self.tokenizer = processor.tokenizer
        self.video_processor = processor.video_processor
        config = model.config
        self.rope = RopeSpec.from_config(config)
        self.device = next(model.parameters()).device
        self.dtype = next(model.parameters()).dtype
        self.video_token_id = int(config.video_token_id)
        self.vision_start_id = int(config.vision_start_token_id)
        self.vision_end_id = int(config.vision_end_token_id)
        vp = self.video_processor
        self.factor = int(vp.patch_size) * int(vp.merge_size)
        self.merge = int(vp.merge_size)
        self.temporal_patch = int(vp.temporal_patch_size)
        eos = model.generation_config.eos_token_id
        eos = [eos] if isinstance(eos, int) else list(eos or [])
        if self.tokenizer.eos_token_id is not None:
            eos.append(self.tokenizer.eos_token_id)
        self.stop_token_ids: tuple[int, ...] = tuple(dict.fromkeys(int(e) for e in eos))
        pad = self.tokenizer.pad_token_id
        self.pad_token_id = int(pad if pad is not None else self.stop_token_ids[0])
        self._text_ids: dict[str, list[int]] = {}
        self.videomind: VideoMind | None = None  # roles + head of a VideoMind checkpoint

    # ------------------------------------------------------------------ text

    def encode_text(self, text: str) -> list[int]:
        """Token ids of ``text`` (special-token strings in it become their single ids)."""
        if text not in self._text_ids:
            if len(self._text_ids) > 4096:  # timestamps repeat; unbounded text does not
                self._text_ids.clear()
            self._text_ids[text] = list(self.tokenizer(text, add_special_tokens=False).input_ids)
        return list(self._text_ids[text])

    def add_tokens(self, texts: Sequence[str]) -> list[str]:
        """Add the ``texts`` the vocabulary lacks as plain (not special) added tokens; returns
        them. Cached encodings are dropped: they may have split a text that is now one token.
        The embedding rows are the caller's business."""
        missing = [t for t in texts if t not in self.tokenizer.get_vocab()]
        if missing:
            self.tokenizer.add_tokens(missing)
            self._text_ids.clear()
        return missing

    def decode(self, token_ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        return str(self.tokenizer.decode(list(token_ids), skip_special_tokens=skip_special_tokens))

    # ------------------------------------------------------------------ vision

    def pixel_budget(self) -> PixelBudget:
        """Per-frame pixel bounds of the checkpoint's video processor, in framescope's terms.

        Qwen2/2.5-VL: ``size`` bounds each frame; with the reference cap (qwen-vl-utils; assumed
        when the checkpoint leaves ``cap_pixels_per_frame`` unset) the whole clip is bounded by
        90 % of ``max_video_tokens`` tokens. Qwen3-VL: ``size["longest_edge"]`` bounds the whole
        clip and ``max_video_tokens`` each frame.
        """
        vp = self.video_processor
        size = vp.size
        lo, hi = int(size["shortest_edge"]), int(size["longest_edge"])
        f = self.factor
        capped = vp.cap_pixels_per_frame is not False
        if FAMILIES[self.family].text_timestamps:  # Qwen3-VL caps tokens per frame
            per_frame = int(vp.max_video_tokens) * f * f if capped else hi
            return PixelBudget(min_pixels=lo, max_pixels=per_frame, factor=f, total_pixels=hi // 2)
        total = int(vp.max_video_tokens * f * f * 0.9) if capped else None
        return PixelBudget(min_pixels=lo, max_pixels=hi, factor=f, total_pixels=total)

    def encode_clip(self, clip: Clip) -> ClipBlock:
        """The family's block for ``clip``; its frames must already be multiples of the factor."""
        h, w = clip.frames.shape[1:3]
        if h % self.factor or w % self.factor:
            raise ModelError(
                f"clip frames are {w}x{h}, not multiples of {self.factor}: sample them with "
                "budget=backend.pixel_budget()"
            )
        out = self.video_processor(
            videos=[clip.frames],
            do_resize=False,
            do_sample_frames=False,
            cap_pixels_per_frame=True,  # unused without resize; set so no warning is printed
            return_tensors="pt",
        )
        t, gh, gw = (int(x) for x in out["video_grid_thw"][0])
        fps = clip_fps(clip)
        vision = VisionInput(out["pixel_values_videos"], (t, gh, gw), self.temporal_patch / fps)
        per_patch = gh * gw // (self.merge * self.merge)
        ids = self._block_ids(clip, t, per_patch)
        evidence = Evidence(
            window=clip.window,
            timestamps=tuple(clip.timestamps),
            frame_size=(h, w),
            fps=fps,
            visual_tokens=t * per_patch,
            notes=tuple(clip.notes),
        )
        return ClipBlock(Segment(ids, [vision]), evidence)

    def _block_ids(self, clip: Clip, t: int, per_patch: int) -> list[int]:
        pads = [self.video_token_id] * per_patch
        if FAMILIES[self.family].text_timestamps:
            ids: list[int] = []
            for time in patch_times(clip.timestamps):
                ids += self.encode_text(f"<{time:.1f} seconds>")
                ids += [self.vision_start_id, *pads, self.vision_end_id]
            return ids
        starts_later = clip.window.start > 0 if clip.window is not None else clip.timestamps[0] > 0
        header = (
            self.encode_text(f"<{clip.timestamps[0]:.1f} - {clip.timestamps[-1]:.1f} seconds>")
            if starts_later
            else []
        )
        return [*header, self.vision_start_id, *(pads * t), self.vision_end_id]

    def build_prompt(
        self, question: str, clips: Sequence[Clip], system: str | None = None
    ) -> tuple[Segment, list[ClipBlock]]:
        """Chat-template prompt: one user turn with the clips then ``question``, generation prompt
        opened; each clip's block replaces the template's video placeholder."""
        content: list[dict[str, Any]] = [{"type": "video"} for _ in clips]
        content.append({"type": "text", "text": question})
        messages: list[dict[str, Any]] = [{"role": "user", "content": content}]
        if system is not None:
            messages.insert(0, {"role": "system", "content": system})
        text = self.processor.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        parts = text.split(PLACEHOLDER)
        if len(parts) != len(clips) + 1:
            raise ModelError(
                f"the chat template wrote {len(parts) - 1} video placeholders for {len(clips)} "
                f"clips (expected {PLACEHOLDER!r} per video)"
            )
        blocks = [self.encode_clip(c) for c in clips]
        segment = Segment(self.encode_text(parts[0]))
        for block, part in zip(blocks, parts[1:]):
            segment = segment + block.segment + Segment(self.encode_text(part))
        return segment, blocks

    # ------------------------------------------------------------------ model

    def new_cache(self) -> Any:
        from transformers import DynamicCache

        return DynamicCache(config=self.model.config)

    @torch.no_grad()
    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        position_ids: torch.Tensor,
        vision: Sequence[VisionInput] = (),
        cache: Any = None,
        logits_to_keep: int | torch.Tensor = 1,
        pre_norm: bool = False,
    ) -> ForwardOutput:
        kwargs: dict[str, Any] = {
            "input_ids": input_ids.to(self.device),
            "attention_mask": attention_mask.to(self.device),
            "position_ids": position_ids.to(self.device),  # (3, B, C): skips 5.23's own rope
            "cache": cache,
            "use_cache": cache is not None,
            "logits_to_keep": logits_to_keep,
        }
        if vision:
            kwargs["pixel_values_videos"] = torch.cat([v.pixel_values for v in vision]).to(
                self.device, self.dtype
            )
            kwargs["video_grid_thw"] = torch.tensor(
                [v.grid_thw for v in vision], device=self.device
            )
        capture = PreNormCapture(self.model) if pre_norm else None
        with capture or contextlib.nullcontext():
            out = self.model(**kwargs)
        return ForwardOutput(
            logits=out.logits,  # (B, K, V)
            pre_norm=capture.states[-1] if capture is not None else None,  # (B, C, H)
        )


# ---------------------------------------------------------------------- loading

Loader = Callable[..., Any]


def _load_qwen(
    path: Path,
    *,
    family: str,
    dtype: str,
    device: str,
    attn_implementation: str | None,
    processor_path: Path | None = None,
) -> HFBackend:
    from transformers import AutoProcessor

    try:
        processor = AutoProcessor.from_pretrained(processor_path or path, local_files_only=True)
        kwargs: dict[str, Any] = {"dtype": DTYPES[dtype], "local_files_only": True}
        if attn_implementation is not None:
            kwargs["attn_implementation"] = attn_implementation
        cls: Any = FAMILIES[family].transformers_class()
        model = cls.from_pretrained(path, **kwargs)
    except (OSError, ValueError, KeyError, TypeError, ImportError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelError(f"{path}: cannot load the {family} checkpoint: {first}") from e
    try:
        model.to(device)
    except (RuntimeError, AssertionError) as e:
        raise ModelError(f"cannot move the model to device {device!r}: {e}") from e
    return HFBackend(processor, model, family)


def _load_videomind(
    path: Path,
    *,
    dtype: str,
    device: str,
    attn_implementation: str | None,
    base_model: str | os.PathLike[str] | None = None,
    roles: Sequence[str] | None = None,
) -> HFBackend:
    """A VideoMind folder: its base model via :func:`_load_qwen` (tokenizer from the checkpoint,
    which has the role tokens), the role adapters wrapped around that model in place, the head."""
    from framescope.models.videomind_ckpt import attach_videomind, read_checkpoint

    ckpt = read_checkpoint(path, base_model, roles)
    backend = _load_qwen(
        ckpt.base_model_path,
        family=ckpt.family,
        dtype=dtype,
        device=device,
        attn_implementation=attn_implementation,
        processor_path=ckpt.processor_path,
    )
    vm = attach_videomind(ckpt, backend.processor, backend.model, backend.dtype, backend.device)
    # the roles switch LoRA layers inside backend.model itself, so forward() runs the active role
    backend.videomind = vm
    ids = vm.checkpoint.token_ids
    backend.rope = dataclasses.replace(
        backend.rope, markers=frozenset({ids.seg_start, ids.seg_end})
    )
    return backend


# model_type in config.json → loader(path, dtype=, device=, attn_implementation=[, options]).
LOADERS: dict[str, Loader] = {
    **{family: functools.partial(_load_qwen, family=family) for family in FAMILIES},
    folders.VIDEOMIND_TYPE: _load_videomind,  # VideoMind's released folders
}


def register_loader(model_type: str, loader: Loader) -> None:
    """Let ``load_backend`` open folders whose ``config.json`` says ``model_type``."""
    LOADERS[model_type] = loader


def load_backend(
    path: str | os.PathLike[str],
    dtype: str = "auto",
    device: str = "cpu",
    attn_implementation: str | None = None,
    base_model: str | os.PathLike[str] | None = None,
    roles: Sequence[str] | None = None,
) -> Any:
    """Load a checkpoint folder (local files only). ``dtype``: auto (the checkpoint's), float32,
    bfloat16 or float16; ``device``: a torch device string; ``attn_implementation``: e.g.
    ``"sdpa"``, ``"eager"``, ``"flash_attention_2"`` (default: transformers' choice).
    VideoMind folders only: ``base_model`` overrides the base model folder their config names,
    ``roles`` selects a subset of the role adapters (default: every one present)."""
    folder = model_folder(path)
    model_type = folders.model_type(folder)
    if dtype not in DTYPES:
        raise ModelError(f"unknown dtype {dtype!r}; expected one of {', '.join(DTYPES)}")
    loader = LOADERS.get(model_type)
    if loader is None:
        raise ModelError(
            f"{folder}: unsupported model type {model_type!r}; supported: {', '.join(LOADERS)}"
        )
    options: dict[str, Any] = {}
    if base_model is not None or roles is not None:
        if loader is not _load_videomind:
            raise ModelError(
                f"{folder}: base_model / roles apply to VideoMind checkpoints (agent_qwen2_vl), "
                f"not to a {model_type!r} model"
            )
        options = {"base_model": base_model, "roles": roles}
    return loader(
        folder, dtype=dtype, device=device, attn_implementation=attn_implementation, **options
    )

"""Training sequences built with the inference code: token ids, labels, vision inputs, batches.

Every sequence is assembled from the functions inference uses, never a second copy of them:
the prompt from ``backend.build_prompt`` (the chat template with the family's vision blocks),
a DynFrame retrieval from :func:`framescope.retrieval.loop.splice` after the request is validated
with the loop's :func:`~framescope.retrieval.grammar.validate` (the clip sampled at the request's
span and fps, as the family's timestamped block), VideoMind's role prompts, replies, zoom and
segment markers from the agent (:mod:`framescope.agent`: ``role_prompt``, ``grounder_prompt``,
``zoom``, ``seg_patches``, ``insert_seg_tokens``, …), and 3-D rope positions from
:mod:`framescope.models.rope` (via :func:`framescope.models.engine.pad_left`; the verifier's
markers need ``backend.rope.markers``, which the role recipes set as the VideoMind loader does).

**Labels** are aligned with the token ids (``labels[i]`` is the target of the logits at
``i − 1``) and are :data:`IGNORE` on every token the runtime injects: the prompt (chat template,
question, the prompt video), every spliced vision block with its markers and timestamps (Qwen3-VL
``<t seconds>``, Qwen2/2.5-VL ``<a - b seconds>`` headers), and the verifier's segment markers.
The assistant's own text learns — DynFrame's ``<span>…</span><fps>…</fps>`` request included —
and so does the ``<|im_end|>`` that closes the turn.

- DM-CoT (:func:`dm_cot_example`): prompt = the record's question and its video sampled at
  ``video.fps`` (≤ ``video.max_frames``); then per segment its text (learns) and, after a
  request, the splice (masked). A request the loop would reject (window outside the video, fps
  over the limit) makes the row bad (:class:`~framescope.errors.RecordError`): the text after it
  was written for a clip. When the chat template already opens ``<think>\\n`` (the released
  Thinking checkpoints), the response's own leading ``<think>`` is dropped so it is not doubled.
- Grounder / verifier / planner (:func:`grounder_example`, :func:`verifier_example`,
  :func:`planner_example`): the role's prompt and reply as the agent shows and reads them
  (grounder: ``The relevant moment happens in <|reg|>.``; verifier: ``Yes``/``No`` on the zoomed,
  marked clip; planner: the JSON plan); grounder examples also carry their ground-truth spans as
  fractions of the video for the timestamp head.
- ``max_length``: a longer sequence is cut; when the cut would split a vision block, it moves back
  to the block's first visual token (the block's pixels are dropped, its leading markers stay as
  masked text).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from framescope.agent.common import role_prompt
from framescope.agent.grounder import GROUNDER_REPLY, grounder_prompt
from framescope.agent.planner import planner_prompt
from framescope.agent.verifier import insert_seg_tokens, seg_patches, verifier_prompt, zoom
from framescope.data.dynframe import DMCoTRecord
from framescope.data.videomind import GrounderRecord, PlannerRecord, VerifierRecord
from framescope.errors import FramescopeError, RecordError
from framescope.models.backend import ClipBlock, Segment, VisionInput
from framescope.models.engine import pad_left
from framescope.models.hf import HFBackend
from framescope.retrieval.grammar import Budgets, Used, validate
from framescope.retrieval.loop import splice
from framescope.types import Clip, Window
from framescope.video.cache import FrameCache
from framescope.video.probe import VideoInfo, probe
from framescope.video.sampling import PixelBudget, sample

IGNORE = -100  # label of a token that gets no loss
SEG_START, SEG_END = "<|seg_start|>", "<|seg_end|>"
END_OF_TURN = "<|im_end|>"
THINK_OPEN = "<think>"


@dataclass
class VideoSettings:
    """How training samples videos: the prompt video's density and cap, the frame size budget
    (the backend's, so inference sees the same), the retrieved clips' cap, the decoded-frame
    cache and the sequence length limit."""

    fps: float
    max_frames: int
    budget: PixelBudget
    splice_max_frames: int = 256  # DynFrame SFT (the release)
    max_fps: float = 30.0  # densities above this are rejected, as in the loop
    max_length: int | None = None
    cache: FrameCache = field(default_factory=FrameCache)
    retrieval_fps: float | None = None  # serve every splice at this density (fixed-density arm)


@dataclass
class Example:
    """One training sequence: tokens + vision inputs, labels aligned with the tokens, and for the
    grounder its spans as fractions of the video."""

    segment: Segment
    labels: list[int]
    spans: tuple[tuple[float, float], ...] = ()
    duration: float | None = None

    def __post_init__(self) -> None:
        if len(self.labels) != len(self.segment):
            raise ValueError(f"{len(self.labels)} labels for {len(self.segment)} tokens")

    @property
    def learned(self) -> int:
        return sum(label != IGNORE for label in self.labels)


@dataclass
class Batch:
    """Examples left-padded into tensors (padding: attention 0, label IGNORE)."""

    input_ids: torch.Tensor  # (B, L)
    attention_mask: torch.Tensor  # (B, L)
    position_ids: torch.Tensor  # (3, B, L)
    labels: torch.Tensor  # (B, L)
    vision: list[VisionInput]  # every block of every row, in row order
    spans: list[tuple[tuple[float, float], ...]]
    durations: list[float | None]

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def learned(self) -> int:
        """Tokens that get a loss (the first position never does: nothing predicts it)."""
        return int((self.labels[:, 1:] != IGNORE).sum())


def _build(parts: Sequence[tuple[Segment, bool]]) -> tuple[Segment, list[int]]:
    """Concatenate ``(segment, learns)`` parts into one segment and its labels."""
    out, labels = Segment([]), []
    for seg, learns in parts:
        out = out + seg
        labels += list(seg.token_ids) if learns else [IGNORE] * len(seg)
    return out, labels


def truncate(backend: HFBackend, segment: Segment, labels: list[int], max_length: int) -> Example:
    """Cut a sequence to ``max_length`` tokens, never inside a vision block (see the module
    docstring)."""
    if len(segment) <= max_length:
        return Example(segment, labels)
    pad = backend.video_token_id
    ids = segment.token_ids
    kept: list[VisionInput] = []
    cut, seen = max_length, 0  # seen: pad tokens of the blocks kept so far
    positions = [i for i, t in enumerate(ids) if t == pad]
    merge = backend.merge
    for v in segment.vision:
        t, h, w = v.grid_thw
        n = t * h * w // (merge * merge)
        if positions[seen + n - 1] >= max_length:  # this block does not fit whole
            cut = min(cut, positions[seen])
            break
        kept.append(v)
        seen += n
    return Example(Segment(ids[:cut], kept), labels[:cut])


def _finish(
    backend: HFBackend, parts: list[tuple[Segment, bool]], settings: VideoSettings
) -> Example:
    parts.append((Segment(backend.encode_text(END_OF_TURN)), True))
    segment, labels = _build(parts)
    if settings.max_length is not None:
        return truncate(backend, segment, labels, settings.max_length)
    return Example(segment, labels)


def _overview(path: str, settings: VideoSettings) -> tuple[VideoInfo, Clip]:
    info = probe(path)
    clip = sample(
        info,
        fps=settings.fps,
        max_frames=settings.max_frames,
        budget=settings.budget,
        cache=settings.cache,
    )
    return info, clip


def _prompt_opens_think(backend: HFBackend, prompt: Segment) -> bool:
    tail = backend.decode(prompt.token_ids[-4:], skip_special_tokens=False)
    return tail.rstrip("\n").endswith(THINK_OPEN)


def dm_cot_example(backend: HFBackend, record: DMCoTRecord, settings: VideoSettings) -> Example:
    """A DM-CoT row as the retrieval loop would have run it (see the module docstring)."""
    where = str(record.video)
    try:
        views = [_overview(str(v), settings) for v in record.videos]
        prompt, _ = backend.build_prompt(record.question, [clip for _, clip in views])
        info = views[0][0]
        budgets = Budgets(
            max_frames=settings.splice_max_frames,
            max_rounds=len(record.requests),
            max_fps=settings.max_fps,
            fixed_fps=settings.retrieval_fps,
        )
        parts: list[tuple[Segment, bool]] = [(prompt, False)]
        used = Used()
        for k, seg in enumerate(record.segments):
            text = seg.text
            if k == 0 and text.startswith(THINK_OPEN) and _prompt_opens_think(backend, prompt):
                text = text[len(THINK_OPEN) :].lstrip("\n")
            parts.append((Segment(backend.encode_text(text)), True))
            if seg.request is None:
                continue
            decision = validate(seg.request, info.duration, budgets, used)
            spliced = splice(
                backend, info, decision, settings.splice_max_frames, settings.budget, settings.cache
            )
            if spliced.evidence is None:
                raise RecordError(
                    f"retrieval {k + 1} {seg.request.text!r}: {spliced.reason}", where
                )
            used = Used(used.rounds + 1, used.visual_tokens + spliced.evidence.visual_tokens)
            parts.append((spliced.segment, False))
    except RecordError:
        raise
    except FramescopeError as e:
        raise _record_error(e, where) from e
    return _finish(backend, parts, settings)


def _record_error(error: FramescopeError, video: str) -> RecordError:
    """A video or sampling failure while building a row's sequence, naming the video once."""
    return RecordError(str(error).removeprefix(f"{video}: "), video)


def _fractions(spans: Sequence[Window], duration: float) -> tuple[tuple[float, float], ...]:
    """Spans clamped to the video, as fractions of its duration (the head's targets)."""
    out = []
    for w in spans:
        c = w.clamp(0.0, duration)
        if c.duration > 0:
            out.append((c.start / duration, c.end / duration))
    if not out:
        raise RecordError(
            f"no span of {list(map(str, spans))} lies inside the {duration:.2f} s video"
        )
    return tuple(out)


def _role_prompt(
    backend: HFBackend, text: str, info: VideoInfo, window: Window | None, settings: VideoSettings
) -> tuple[Segment, ClipBlock]:
    """A role's prompt as the agent builds it: ``window`` (None: the whole video) sampled at the
    role's density, the clip as a bare vision block, then ``text``."""
    clip = sample(
        info,
        window,
        fps=settings.fps,
        max_frames=settings.max_frames,
        budget=settings.budget,
        cache=settings.cache,
    )
    return role_prompt(backend, text, clip)


def grounder_example(
    backend: HFBackend, record: GrounderRecord, settings: VideoSettings
) -> Example:
    """The grounder's prompt and reply (``<|reg|>``), with the spans for the head."""
    try:
        info = probe(str(record.video))
        prompt, _ = _role_prompt(backend, grounder_prompt(record.query), info, None, settings)
        spans = _fractions(record.spans, info.duration)
    except FramescopeError as e:
        raise _record_error(e, str(record.video)) from e
    reply = Segment(backend.encode_text(GROUNDER_REPLY))
    example = _finish(backend, [(prompt, False), (reply, True)], settings)
    example.spans, example.duration = spans, info.duration
    return example


def verifier_example(
    backend: HFBackend, record: VerifierRecord, settings: VideoSettings
) -> Example:
    """The verifier's zoomed clip with ``<|seg_start|>``/``<|seg_end|>`` inside its visual tokens
    at the candidate's boundaries, and its Yes/No label."""
    try:
        info = probe(str(record.video))
        z = zoom(record.candidate, info.duration)
        text = verifier_prompt(record.query)
        prompt, block = _role_prompt(backend, text, info, z.window, settings)
    except FramescopeError as e:
        raise _record_error(e, str(record.video)) from e
    t, h, w = block.segment.vision[0].grid_thw
    seg = (backend.encode_text(SEG_START), backend.encode_text(SEG_END))
    prompt = insert_seg_tokens(
        prompt,
        backend.vision_start_id,
        h * w // backend.merge**2,
        seg_patches(z, t),
        (seg[0][0], seg[1][0]),
    )
    reply = Segment(backend.encode_text(record.label))
    return _finish(backend, [(prompt, False), (reply, True)], settings)


def planner_example(backend: HFBackend, record: PlannerRecord, settings: VideoSettings) -> Example:
    """The planner's prompt and its JSON plan."""
    try:
        info = probe(str(record.video))
        prompt, _ = _role_prompt(backend, planner_prompt(record.question), info, None, settings)
    except FramescopeError as e:
        raise _record_error(e, str(record.video)) from e
    reply = Segment(backend.encode_text(record.response()))
    return _finish(backend, [(prompt, False), (reply, True)], settings)


# data.format -> the function that builds its records' sequences
EXAMPLES: dict[str, Callable[[HFBackend, Any, VideoSettings], Example]] = {
    "dm_cot": dm_cot_example,
    "grounder": grounder_example,
    "verifier": verifier_example,
    "planner": planner_example,
}


def collate(backend: HFBackend, examples: Sequence[Example]) -> Batch:
    """Left-pad examples into one batch with 3-D rope positions (padding gets label IGNORE)."""
    padded = pad_left(backend, [ex.segment for ex in examples])
    length = padded.input_ids.shape[1]
    labels = torch.full((len(examples), length), IGNORE, dtype=torch.long)
    for b, ex in enumerate(examples):
        labels[b, length - len(ex.labels) :] = torch.tensor(ex.labels, dtype=torch.long)
    return Batch(
        input_ids=padded.input_ids,
        attention_mask=padded.attention_mask,
        position_ids=padded.position_ids,
        labels=labels,
        vision=padded.vision,
        spans=[ex.spans for ex in examples],
        durations=[ex.duration for ex in examples],
    )

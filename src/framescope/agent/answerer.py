"""VideoMind's Answerer: the base model (adapters off) on the chosen clip.

VideoMind (Liu et al., arXiv 2503.13444), as released: the top moment widened to a minimum
length (32 s by default; some benchmarks set their own length or a fraction of the video) or,
when nothing was grounded, the whole video; sampled at fps 2, at most 32 frames, 128–256 × 28²
pixels per frame. Multiple choice lists the options (``(A) …``, first letter capitalised), asks
for the best option and prefills ``Best Option: (`` so the next token is the letter. With
subtitles, the cues lying wholly inside the clip are given first, with clip-relative times.

**Deviation:** a subtitle cue spanning several lines is one line here (the release kept its line
breaks inside the prompt line).
"""

from __future__ import annotations

from collections.abc import Sequence

from framescope.agent.common import pad_span
from framescope.types import LETTERS, Window

MCQ_PREFILL = "Best Option: ("
MIN_LEN = 32.0  # seconds; the release's default


def answer_window(
    moment: Window | None, duration: float, min_len: float = MIN_LEN, min_ratio: float | None = None
) -> Window:
    """The clip the Answerer sees: ``moment`` (or the whole video when ``None``) widened to
    ``min_len`` seconds, or to ``min_ratio`` of the video when given, inside the video."""
    length = duration * min_ratio if min_ratio is not None else min_len
    return pad_span(moment if moment is not None else Window(0.0, duration), duration, length)


def answer_prompt(
    question: str,
    options: Sequence[str] = (),
    subtitles: Sequence[str] | None = None,
    clip_seconds: float = 0.0,
) -> tuple[str, str]:
    """The Answerer's user text and the forced start of its reply (``Best Option: (`` for
    multiple choice, else nothing). ``subtitles``: the clip's lines (:func:`clip_lines`), or
    ``None`` when the sample has no subtitle file."""
    text = question
    if options:
        lines = "".join(f"\n({LETTERS[k]}) {o[:1].upper() + o[1:]}" for k, o in enumerate(options))
        text += "\nOptions:" + lines + "\nPlease only give the best option."
    if subtitles is not None:
        subs = "".join(line + "\n" for line in subtitles)
        text = (
            f"You are given a video with {round(clip_seconds, 1)} seconds long.\nSubtitles:\n{subs}"
            + text
        )
    return text, MCQ_PREFILL if options else ""

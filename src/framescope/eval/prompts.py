"""The task prompts ``framescope eval`` gives a method, one per kind of benchmark, and where each
comes from. A prompt is the user text *before* the options (``Sample.prompt``): the runtime
appends a sample's options as ``Options:`` + ``(A) …`` lines
(:func:`framescope.retrieval.loop.prompt_text`) and puts the video (the overview clip) before the
text. A method that writes its own prompts (VideoMind's roles) uses the bare question or query
(``Sample.question``) and the options instead.

- **Moment retrieval** (Charades-STA, ActivityNet-Captions, QVHighlights):
  :data:`GROUNDING` — DynFrame's released grounding prompt, word for word as in its DM-RL rows
  (``dm_rl_charades_fps_grpo.jsonl``: ``"<video>\\nGive you a textual query: …"``) without the
  leading ``<video>\\n`` placeholder, whose place the overview clip takes. The synthetic world's
  DM-RL rows use the same text, so a model trained on them is evaluated on its own prompt.
- **Multiple choice** (Video-MME, MLVU, LVBench): :data:`MULTIPLE_CHOICE` — Video-MME's official
  instruction (its README, "without subtitles") with "(A, B, C, or D)" dropped because MLVU has up
  to six options; the question follows, then the options in the runtime's layout. Video-MME's
  trailing ``The best answer is:`` is left out (the options come last here). MLVU and LVBench
  use the same text so that the three are comparable.
- **Grounded QA** (NExT-GQA, ReXTime, CG-Bench): :data:`GROUNDED_QA` — framescope's own wording
  (these benchmarks' official prompts ask for the answer and the moment in separate runs): the
  option letter and the supporting moment in one reply, e.g. ``(B) 12.5 - 18.0``, which each
  benchmark's reader parses (letter: its official extractor; moment: the first span). A
  retrieval method's fetched window is the moment when the reply names none.
"""

from __future__ import annotations

GROUNDING = (
    "Give you a textual query: {query}\n"
    "When does the described content occur in the video?\n"
    "Please return the timestamp in seconds."
)

MULTIPLE_CHOICE = (
    "Select the best answer to the following multiple-choice question based on the video. "
    "Respond with only the letter of the correct option.\n"
    "{question}"
)

GROUNDED_QA = (
    "Answer the multiple-choice question based on the video and give the moment that supports "
    "your answer. Respond with the letter of the correct option followed by the start and end "
    'time of that moment in seconds, e.g. "(B) 12.5 - 18.0".\n'
    "{question}"
)


def grounding(query: str) -> str:
    """The moment-retrieval prompt for ``query``, as given."""
    return GROUNDING.format(query=query.strip())


def multiple_choice(question: str) -> str:
    return MULTIPLE_CHOICE.format(question=question.strip())


def grounded_qa(question: str) -> str:
    """The grounded-QA prompt; a question without a question mark (NExT-GQA writes them lower
    case without one) gets one."""
    q = question.strip()
    return GROUNDED_QA.format(question=q if q.endswith("?") else q + "?")

"""Total parsers of model text: multiple-choice letters and time spans.

Every function here returns a typed result and never raises: text it cannot read gives an
invalid :class:`Choice` (no letters) or :class:`Spans` (no windows). Benchmarks pick the
extractor their official script uses, so the same response scores as it would there:

* :func:`videomme_choice` — Video-MME's ``extract_characters_regex``: remove answer prefixes
  anywhere in the text (the official list is missing two commas, so "The best option is" and
  "Best answer:" are never removed on their own), give up on more than 10 words without a capital
  A–D, else the first capital A–D *anywhere* (so "Based on the video…" reads as B — official).
* :func:`videomind_choice` — VideoMind's ``check_ans``: first space-separated token, lower-cased,
  ``( ) .`` removed, first character; valid only if it is one of the options.
* :func:`lvbench_choice` — LVBench's ``polish_answer``: the text before the first ``)``, after a
  ``(`` if any, first word, first character.
* :func:`mlvu_choice` — MLVU's scripts: the stripped text before the first ``)``.
* :func:`lmms_mlvu_choice` — lmms-eval's MLVU: the character before the first ``)``, else the text.
* :func:`cgbench_choice` — CG-Bench's ``post_process``: the ``result`` of a ```` ```json ````
  block, else every standalone capital A–H (correct when the answer is among them).
* :func:`choice` — framescope's reader for benchmarks whose official scoring takes indices or
  letters directly (NExT-GQA, ReXTime): ``<answer>`` content, "(B)", "B.", "Answer: B", "The
  answer is B", "Best Option: (B …", a lone letter.

Spans: :func:`parse_spans` reads every ``start–end`` pair in order ("from 3.5 to 7 seconds",
"3.5s - 7s", "[3.5, 7.0]", "00:01:05 to 00:01:10", "1:05-1:10", "between 3 and 7", "starts at
3.5 … ends at 7", ``<answer>3.5 - 7</answer>``, DynFrame's ``s - e``). Windows keep the order the
text gives (a reversed pair stays reversed: the metrics score it 0, as the official scripts do).
:func:`lmms_eval_spans` reproduces lmms-eval's ``extract_time`` (it swaps reversed pairs), and
:func:`cgbench_spans` CG-Bench's interval reading (normalised intervals scaled by the duration).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

from framescope.types import Window


@dataclass(frozen=True)
class Choice:
    """An extracted multiple-choice answer. ``letters`` is empty when nothing could be read;
    it holds several letters only for CG-Bench's lenient fallback."""

    letters: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return bool(self.letters)

    @property
    def letter(self) -> str | None:
        return self.letters[0] if self.letters else None


@dataclass(frozen=True)
class Spans:
    """Time spans read from text, in the order the text gives them (empty: unparseable)."""

    windows: tuple[Window, ...] = ()

    @property
    def valid(self) -> bool:
        return bool(self.windows)

    @property
    def window(self) -> Window | None:
        return self.windows[0] if self.windows else None


INVALID = Choice()
NO_SPANS = Spans()

_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.S | re.I)
_ANSWER = re.compile(r"<answer>(.*?)(?:</answer>|$)", re.S | re.I)


def answer_region(text: str) -> str:
    """The part of a response that holds the final answer: the last ``<answer>…</answer>``
    content if any, else the text with ``<think>…</think>`` removed (an unclosed ``<think>``
    runs to the end)."""
    found: list[str] = _ANSWER.findall(text)
    if found:
        return found[-1]
    if "</think>" in text.lower():
        return re.split(r"</think>", text, flags=re.I)[-1]
    return _THINK.sub(" ", text)


# ---------------------------------------------------------------------------- multiple choice

# Video-MME's list, with its two missing commas reproduced (adjacent literals concatenate)
_VIDEOMME_PREFIXES = (
    "The best answer is",
    "The correct answer is",
    "The answer is",
    "The answer",
    "The best option isThe correct option is",
    "Best answer:Best option:",
)


def videomme_choice(text: str, letters: str = "ABCD") -> Choice:
    """Video-MME's official extraction (see the module docstring)."""
    s = text.strip()
    for prefix in _VIDEOMME_PREFIXES:
        s = s.replace(prefix, "")
    found = re.search(f"[{re.escape(letters)}]", s)
    if found is None:  # also covers "more than 10 words and no letter"
        return INVALID
    return Choice((found.group(0),))


def videomind_choice(text: str, num_options: int) -> Choice:
    """VideoMind's ``check_ans`` reading (the result is upper-cased for comparison)."""
    token = text.lower().split(" ")[0].replace("(", "").replace(")", "").replace(".", "")
    if not token:
        return INVALID
    letter = token[0]
    if letter not in "abcdefghijklmnopqrstuvwxyz"[:num_options]:
        return INVALID
    return Choice((letter.upper(),))


def lvbench_choice(text: str) -> Choice:
    """LVBench's ``polish_answer`` (any first character, compared verbatim to the answer)."""
    s = text.strip().split(")")[0].strip()
    if "(" in s:
        s = s.split("(")[1].strip()
    s = s.split(" ")[0]
    return Choice((s[0],)) if s else INVALID


def mlvu_choice(text: str) -> Choice:
    """MLVU's official reading: the stripped text before the first ``)``, compared verbatim."""
    s = text.strip()
    if ")" in s:
        s = s[: s.index(")")].strip()
    return Choice((s,)) if s else INVALID


def lmms_mlvu_choice(text: str) -> Choice:
    """lmms-eval's MLVU reading: the character before the first ``)``, else the stripped text."""
    s = text.strip()
    if ")" in s:
        s = s[s.index(")") - 1 : s.index(")")]
    return Choice((s,)) if s else INVALID


def cgbench_choice(text: str) -> Choice:
    """CG-Bench's reading: a json block's ``result``, else every standalone capital A–H."""
    block = _json_block(text)
    if block:
        # the official fix-up quotes bare words after ": " ({"result": B} → {"result": "B"})
        fixed = re.sub(r"(?<=:\s)([A-Za-z_]\w*)", r'"\1"', block)
        try:
            value = json.loads(fixed)["result"]
        except (ValueError, TypeError, KeyError, IndexError):
            value = None
        if value is not None:
            return Choice((str(value),))
    letters = re.findall(r"\b[A-H]\b", text)
    return Choice(tuple(letters))


# "(B …" / "[B]" at the start, or "B" / "B." / "B)" / "B:" as the whole first token
_LEAD = re.compile(r"^\s*(?:[\(\[]\s*([A-Z])\b|([A-Z])\s*(?:[\)\]\.:,]|$))")
# "answer is B", "Answer: (B)", "Best Option: (B", "option B", "the correct choice is D"
_CUES = re.compile(
    r"(?i:answer|option|choice)\s*(?:(?i:is)|:|=)?\s*[:\-]?\s*[\(\[]?\s*([A-Z])(?![\w’'])"
)
_PAREN = re.compile(r"\(([A-Z])\)")


def choice(text: str, letters: str = "ABCDE") -> Choice:
    """framescope's letter reader (see the module docstring); only ``letters`` count."""
    region = answer_region(text).strip()
    lead = _LEAD.match(region)
    if lead and (lead.group(1) or lead.group(2)) in letters:
        return Choice((lead.group(1) or lead.group(2),))
    for pattern in (_CUES, _PAREN):
        for found in pattern.finditer(region):
            if found.group(1) in letters:
                return Choice((found.group(1),))
    # a standalone capital counts only when it is the only candidate in the text
    lone = {x for x in re.findall(r"(?<![\w'’])([A-Z])(?![\w'’])", region) if x in letters}
    return Choice((lone.pop(),)) if len(lone) == 1 else INVALID


# ---------------------------------------------------------------------------- time spans

# The one time grammar of model text: the request grammar (framescope.retrieval.grammar), the
# answer parsers below and the rewards read times with these.
NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"  # 2, 2., 2.5, .5
CLOCK = r"\d{1,2}(?::\d{1,2}){1,2}(?:\.\d+)?"  # 1:05, 0:01:05.5 (minutes:seconds, h:m:s)
TIME = rf"(?:{CLOCK}|{NUMBER})"  # a time in seconds or on a clock
SECONDS_UNIT = r"(?:seconds?|secs?|s)\b"
_T = rf"(?<![\d.:])({TIME})(?:\s*{SECONDS_UNIT}\.?)?"  # never starts inside a number
_SPAN_PATTERNS = (
    re.compile(rf"[\[\(]\s*{_T}\s*,\s*{_T}\s*[\]\)]", re.I),
    re.compile(rf"\bfrom\s+{_T}\s*(?:to|until|till|through|-|–|—|~)\s*{_T}", re.I),
    re.compile(rf"\bbetween\s+{_T}\s*(?:and|to|-|–|—|~)\s*{_T}", re.I),
    re.compile(
        rf"\bstart\w*[^\d\n]{{0,30}}?{_T}[^\d\n]{{0,60}}?\bend\w*[^\d\n]{{0,30}}?{_T}", re.I
    ),
    re.compile(rf"{_T}\s*(?:-|–|—|~|to|until|till|through)\s*{_T}", re.I),
)


def seconds(token: str) -> float | None:
    """A :data:`TIME` token (optionally signed) in seconds: ``"2.5"`` → 2.5, ``".5"`` → 0.5,
    ``"1:05"`` → 65, ``"-0:05"`` → -5; ``None`` when it is not one or not finite."""
    body = token.strip()
    sign = -1.0 if body.startswith("-") else 1.0
    body = body.lstrip("+-")
    total = 0.0
    try:
        for part in body.split(":"):
            total = total * 60 + float(part)
    except ValueError:
        return None
    total *= sign
    return total if math.isfinite(total) else None


def parse_spans(text: str) -> Spans:
    """Every start–end pair in the answer region of ``text`` (see the module docstring)."""
    region = re.sub(r"<fps>.*?</fps>", " ", answer_region(text), flags=re.S | re.I)
    found: list[tuple[int, int, Window]] = []
    for pattern in _SPAN_PATTERNS:
        for m in pattern.finditer(region):
            start, end = seconds(m.group(1)), seconds(m.group(2))
            if start is not None and end is not None:
                found.append((m.start(), m.end(), Window(start, end)))
    found.sort(key=lambda f: (f[0], -f[1]))
    windows, last_end = [], -1
    for begin, finish, window in found:
        if begin >= last_end:
            windows.append(window)
            last_end = finish
    return Spans(tuple(windows))


def lmms_eval_spans(text: str) -> Spans:
    """lmms-eval's ``extract_time`` (Charades-STA task): "to" → "-" everywhere, all ``a - b``
    pairs, else numbers from sentences with start/end keywords, else hh:mm:ss; reversed pairs
    swapped; only the first pair kept. A token it cannot convert (lmms-eval would crash) makes the
    text unparseable."""
    prompt = "a specific example is : 20.8 - 30.0 seconds"
    paragraph = text.lower().replace(prompt, "").replace("to", "-")
    sentences = re.split(r"[!?\n]", paragraph)
    keywords = ("starts", "ends", "happens in", "start time", "end time", "start", "end", "happen")
    candidates = [s for s in sentences if any(k in s for k in keywords)]
    try:
        # lmms-eval's r"(\d+\.*\d*)\s*-\s*(\d+\.*\d*)", rewritten to match the same pairs in linear
        # time (a match cannot start inside a digit run, and digits-then-dots is unambiguous)
        found = re.findall(r"(?<!\d)(\d+(?:\.+\d*)?)\s*-\s*(\d+\.*\d*)", paragraph)
        pairs = [(float(a), float(b)) for a, b in found]
    except ValueError:  # "3..5": lmms-eval crashes
        return NO_SPANS
    stale: float | None = None  # lmms-eval's loop variable, reused by its hh:mm:ss branch
    if not pairs:
        times = []
        for s in candidates:
            if m := re.findall(r"\b(\d+\.\d+\b|\b\d+)\b", s):
                stale = float(m[0])
                times.append(stale)
        pairs = [(times[i], times[i + 1]) for i in range(0, len(times) // 2 * 2, 2)]
    if not pairs:
        # lmms-eval's hh:mm:ss branch tests ``tuple.count(':')``, never converts, and appends the
        # previous loop's value (or crashes when there is none): reproduced as is
        times = []
        for s in candidates:
            if re.findall(r"\b((\d{1,2}:\d{2}:\d{2}))\b", s):
                if stale is None:
                    return NO_SPANS
                times.append(stale)
        pairs = [(times[i], times[i + 1]) for i in range(0, len(times) // 2 * 2, 2)]
    if not pairs:
        return NO_SPANS
    start, end = pairs[0]
    if not (math.isfinite(start) and math.isfinite(end)):
        return NO_SPANS
    return Spans((Window(start, end) if end > start else Window(end, start),))


def cgbench_spans(text: str, duration: float | None) -> Spans:
    """CG-Bench's reading of a clue-interval answer: the ``result`` list of a json block (all
    values ≤ 1 → fractions of ``duration``), else every number paired in order (an odd last one
    dropped; fewer than two numbers: unparseable)."""
    block = _json_block(text)
    if block:
        try:
            result = json.loads(block)["result"]
            if not isinstance(result, list):
                return NO_SPANS  # the official code gives up here, without the fallback
            items = result if isinstance(result[0], list) else [result]
            windows = [Window(float(a), float(b)) for a, b in items]
            if duration is not None and all(w.start <= 1 and w.end <= 1 for w in windows):
                windows = [Window(w.start * duration, w.end * duration) for w in windows]
            if all(math.isfinite(w.start) and math.isfinite(w.end) for w in windows):
                return Spans(tuple(windows))
        except (ValueError, TypeError, KeyError, IndexError):
            pass  # the official code falls back to reading numbers
    numbers = [float(x) for x in re.findall(r"-?\d+\.?\d*", text)]
    if len(numbers) < 2 or not all(math.isfinite(x) for x in numbers):
        return NO_SPANS
    numbers = numbers[: len(numbers) // 2 * 2]
    return Spans(tuple(Window(numbers[i], numbers[i + 1]) for i in range(0, len(numbers), 2)))


def _json_block(text: str) -> str:
    start = text.find("```json")
    end = text.find("```", start + len("```json"))
    if start == -1 or end == -1:
        return ""
    return text[start + len("```json") : end].strip()

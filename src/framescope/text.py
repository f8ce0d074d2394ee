"""Total parsers of model text: multiple-choice letters and time spans.

Every function here returns a typed result and never raises: text it cannot read gives an
invalid :class:`Choice` (no letters) or :class:`Spans` (no windows). Benchmarks pick the
extractor their official script uses, so the same response scores as it would there:

* :func:`videomme_choice` — Video-MME's ``extract_characters_regex`` (the parser its README links
  to, ``thanku-all/parse_answer`` ``eval_your_results.py``): remove answer prefixes anywhere in
  the text ("Answer:", "Option:", "The correct answer", … — the list is missing two commas, so
  "The best option is" and "Best answer:" are never removed on their own), give up on more than
  10 words without a capital A–D, else the first capital A–D *anywhere* (so "Based on the
  video…" reads as B — official).
* :func:`videomind_choice` — VideoMind's ``check_ans``: first space-separated token, lower-cased,
  ``( ) .`` removed, first character; valid only if it is one of the options.
* :func:`lvbench_choice` — LVBench's ``polish_answer``: the text before the first ``)``, after a
  ``(`` if any, first word, first character.
* :func:`mlvu_choice` — MLVU's ``check_ans``: the single character before the first ``)`` (no
  stripping), else the whole text.
* :func:`mcq_answer` — lmms-eval's ``extract_mcq_answer`` (Video-MME, MLVU, LVBench tasks): the
  best-ranked candidate among "(B)", "B.", "B:", "B)", "B ", answer phrases, a leading or a
  trailing letter, the last occurrence within a format; :func:`strip_reasoning` its default
  removal of ``<think>``/``<analysis>`` blocks before any task reads a reply.
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
:func:`cgbench_intervals` CG-Bench's clue-interval reading (``run/utils.py``).
"""

from __future__ import annotations

import itertools
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

# Video-MME's list (thanku-all/parse_answer afd52cf), its two missing commas reproduced
# (adjacent literals concatenate); removed in this order
_VIDEOMME_PREFIXES = (
    "The best answer is",
    "The correct answer is",
    "The answer is",
    "The answer",
    "The best option isThe correct option is",
    "Best answer:Best option:",
    "Answer:",
    "Option:",
    "The correct answer",
    "The correct option",
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
    """MLVU's ``check_ans``: the one character before the first ``)`` (none when ``)`` comes
    first), else the whole text — never stripped — compared verbatim to the gold letter."""
    if ")" in text:
        cut = text.index(")")
        text = text[cut - 1 : cut] if cut > 0 else ""
    return Choice((text,)) if text else INVALID


# lmms-eval's answer phrases, in its order
_MCQ_PHRASES = (
    "the answer is",
    "answer is",
    "the correct answer is",
    "correct answer is",
    "the best answer is",
    "best answer is",
    "the correct option is",
    "correct option is",
    "the best option is",
    "best option is",
    "the choice is",
    "choice is",
    "the correct choice is",
    "correct choice is",
    "i choose",
    "i select",
    "i pick",
    "my answer is",
    "my choice is",
    "옵션",
    "정답은",
    "답은",
    "답:",
    "答案是",
    "答案为",
    "选",
    "答えは",
)
# (format, priority): a higher priority wins, then the later position
_MCQ_MARKS = (("({})", 6), ("{}.", 5), ("{}:", 4), ("{})", 3), ("{} ", 2))


def mcq_answer(text: str, letters: str = "ABCD") -> Choice:
    """lmms-eval's ``extract_mcq_answer`` (v0.7.2): every letter found as "(X)", "X.", "X:", "X)",
    "X " (its last occurrence), after an answer phrase, leading or trailing the text, else
    anywhere; the candidate of the highest format priority wins, then the later position."""
    if not text.strip():
        return INVALID
    body = text.strip()
    for mark in ",.!?;:'\"":
        body = body.strip(mark)
    padded = f" {body} "
    found: list[tuple[int, int, str]] = []  # (priority, position, letter)
    for fmt, priority in _MCQ_MARKS:
        found += [
            (priority, padded.rfind(fmt.format(x)), x) for x in letters if fmt.format(x) in padded
        ]
    lower = padded.lower()
    for phrase in _MCQ_PHRASES:
        at = lower.find(phrase)
        if at != -1:
            after = at + len(phrase)
            found += [(7, padded.find(x, after), x) for x in letters if padded.find(x, after) != -1]
    core = padded.strip()
    for x in letters:
        if core.startswith(x) and (len(core) == 1 or not core[1].isalpha()):
            found.append((10, 0, x))
        if core.endswith(x) and (len(core) == 1 or not core[-2].isalpha()):
            found.append((9, len(padded) - 1, x))
    if not found:
        found = [(0, padded.rfind(x), x) for x in letters if x in padded]
    if not found:
        return INVALID
    # lmms-eval sorts by (priority, position), reversed, stably: the first maximum wins
    best = max(found, key=lambda c: (c[0], c[1]))
    return Choice((best[2],))


REASONING_TAGS = (("<think>", "</think>"), ("<analysis>", "</analysis>"))


def strip_reasoning(text: str, tags: tuple[tuple[str, str], ...] = REASONING_TAGS) -> str:
    """lmms-eval's ``strip_reasoning_tags`` with its default tags: remove every
    ``start…end`` block (first start, then the first end after it); a closing tag without an
    opening one keeps what follows the last closing tag; stripped."""
    for start, end in tags:
        while start in text and end in text:
            a = text.find(start)
            b = text.find(end, a)
            if b == -1:
                break
            text = text[:a] + text[b + len(end) :]
        if end in text and start not in text:
            text = text.rsplit(end, 1)[-1]
    return text.strip()


_UNREAD = object()


def cgbench_choice(text: str) -> Choice:
    """CG-Bench's reading: a json block's ``result``, else every standalone capital A–H."""
    block = _json_block(text)
    if block:
        # the official fix-up quotes bare words after ": " ({"result": B} → {"result": "B"})
        fixed = re.sub(r"(?<=:\s)([A-Za-z_]\w*)", r'"\1"', block)
        try:
            value = json.loads(fixed)["result"]
        except (ValueError, TypeError, KeyError, IndexError):
            value = _UNREAD
        if value is not _UNREAD:  # any parsed result is the answer (null: a wrong one)
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


_LMMS_CLOCK = r"\d{1,2}:\d{2}(?::\d{2})?"
_LMMS_NUM = r"(?<!\d)(\d+(?:\.\d+)?)"  # the lookbehind only spares backtracking in digit runs
_LMMS_CLOCK_RANGE = re.compile(rf"\b({_LMMS_CLOCK})\s*[–-]\s*({_LMMS_CLOCK})\b")
_LMMS_RANGE = re.compile(rf"{_LMMS_NUM}\s*[–-]\s*(\d+(?:\.\d+)?)")
_LMMS_CLOCK_TIME = re.compile(rf"\b({_LMMS_CLOCK})\b")
_LMMS_NUMBER = re.compile(r"\b(\d+(?:\.\d+)?)\b")
_LMMS_LOOSE = re.compile(rf"{_LMMS_NUM}\s*s?\s*[–-]\s*(\d+(?:\.\d+)?)\s*s?")
_LMMS_KEYWORDS = (
    "starts",
    "ends",
    "happens in",
    "start time",
    "end time",
    "start",
    "end",
    "happen",
)


def _clock(token: str) -> float:
    parts = [float(p) for p in token.split(":")]
    return (
        parts[0] * 3600 + parts[1] * 60 + parts[2] if len(parts) == 3 else parts[0] * 60 + parts[1]
    )


def lmms_eval_spans(text: str) -> Spans:
    """lmms-eval's ``extract_time`` (v0.7.2, Charades-STA task): lower-cased, "to" → "-"
    everywhere, split into sentences at ``! ? newline``, those with a start/end keyword kept (all
    when none has one); the first sentence with an ``m:ss``/``h:mm:ss`` range (``-`` or ``–``),
    else the first with a number range, else all clock times paired, else the first number of each
    sentence paired, else the first sentence with ``12s - 15s``; only the first pair, swapped when
    reversed."""
    paragraph = text.lower().replace("a specific example is : 20.8 - 30.0 seconds", "")
    sentences = re.split(r"[!?\n]", paragraph.replace("to", "-"))
    candidates = [s for s in sentences if any(k in s for k in _LMMS_KEYWORDS)] or sentences
    pairs: list[tuple[float, float]] = []
    for pattern, convert in ((_LMMS_CLOCK_RANGE, _clock), (_LMMS_RANGE, float)):
        found = next((m for s in candidates if (m := pattern.findall(s))), [])
        pairs = [(convert(a), convert(b)) for a, b in found]
        if pairs:
            break
    for pattern, convert in ((_LMMS_CLOCK_TIME, _clock), (_LMMS_NUMBER, float)):
        if pairs:
            break
        if pattern is _LMMS_CLOCK_TIME:
            times = [convert(t) for s in candidates for t in pattern.findall(s)]
        else:
            times = [convert(m[0]) for s in candidates if (m := pattern.findall(s))]
        pairs = [(times[i], times[i + 1]) for i in range(0, len(times) // 2 * 2, 2)]
    if not pairs:
        found = next((m for s in candidates if (m := _LMMS_LOOSE.findall(s))), [])
        pairs = [(float(a), float(b)) for a, b in found]
    if not pairs:
        return NO_SPANS
    start, end = pairs[0]
    if not (math.isfinite(start) and math.isfinite(end)):
        return NO_SPANS
    return Spans((Window(start, end) if end > start else Window(end, start),))


def _as_pairs(result: object) -> tuple[Window, ...] | None:
    """The clue intervals CG-Bench measures from a json ``result``, or ``None`` where its IoU
    code fails (and the official reader falls back to numbers): a falsy result is no interval; a
    list of ``[start, end]`` lists is read, a longer list only when merging absorbs it into an
    earlier interval (the code reads its first two values there)."""
    if not result:
        return ()
    if not isinstance(result, list) or not all(
        isinstance(w, list) and len(w) >= 2 and all(isinstance(x, (int, float)) for x in w[:2])
        for w in result
    ):
        return None
    try:
        pairs = [(float(w[0]), float(w[1]), len(w)) for w in result]
    except OverflowError:
        return None
    ordered = sorted(pairs, key=lambda p: p[0])  # stable, as list.sort
    reach = -math.inf
    for start, end, size in ordered:
        if start > reach and size != 2:  # it starts a merged interval, which is unpacked
            return None
        reach = max(reach, end) if start <= reach else end
    if not all(math.isfinite(a) and math.isfinite(b) for a, b, _ in pairs):
        return None
    return tuple(Window(a, b) for a, b, _ in pairs)


def cgbench_intervals(text: str | None) -> tuple[Window, ...] | None:
    """CG-Bench's clue-interval reading (``run/utils.py`` ``post_process``, miou mode): the json
    block's ``result`` in seconds (see :func:`_as_pairs`), else every number in the text
    (``-?\\d+\\.?\\d*``) paired in order — an odd count is unreadable, none is no interval.
    The official code merges those pairs as tuples and crashes (the question gets no score) when
    two of them overlap once sorted: unreadable too. ``None``: no score, left out of every
    metric; ``()``: IoU 0."""
    if not text:
        return None
    block = _json_block(text)
    if block:
        try:
            found = _as_pairs(json.loads(block)["result"])
        except (ValueError, TypeError, KeyError, IndexError, RecursionError):
            found = None
        if found is not None:
            return found
    numbers = [float(x) for x in re.findall(r"-?\d+\.?\d*", text)]
    if len(numbers) % 2 or not all(math.isfinite(x) for x in numbers):
        return None
    windows = [Window(numbers[i], numbers[i + 1]) for i in range(0, len(numbers), 2)]
    ordered = sorted(windows, key=lambda w: w.start)
    if any(b.start <= a.end for a, b in itertools.pairwise(ordered)):
        return None
    return tuple(windows)


def _json_block(text: str) -> str:
    start = text.find("```json")
    end = text.find("```", start + len("```json"))
    if start == -1 or end == -1:
        return ""
    return text[start + len("```json") : end].strip()

"""Answer extraction from messy model text: letters and time spans; parsers never raise."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from framescope import text as a
from framescope.types import Window as W

# ----------------------------------------------------------------------- framescope's letter reader

CHOICES = [
    ("B", "B"),
    ("b", None),
    ("B.", "B"),
    ("B) the man", "B"),
    ("(C) a dog", "C"),
    ("[D]", "D"),
    ("  A  ", "A"),
    ("E.", "E"),
    ("Answer: C", "C"),
    ("answer: (c)", None),
    ("The answer is D.", "D"),
    ("The correct answer is (A).", "A"),
    ("Best Option: (B", "B"),
    ("Best option: B. Because the man waves.", "B"),
    ("I think the correct choice is D", "D"),
    ("Option B is correct", "B"),
    ("A man is walking, so the answer is B", "B"),
    ("I'd go with C", "C"),
    ("<think>Maybe A or B.</think><answer>C</answer>", "C"),
    ("<think>it is surely A</think>\nB", "B"),
    ("<answer> (D) </answer>", "D"),
    ("<answer>\nA\n</answer>", "A"),
    ("B or C", None),
    ("", None),
    ("   ", None),
    ("I don't know", None),
    ("the answer is a dog", None),
    ("The video shows a man.", None),
    ("F", None),  # not an option letter
    ("Answer: F", None),
    ("<think>unclosed reasoning A B C", None),
    ("12.5 - 18.0", None),
]


@pytest.mark.parametrize(("text", "want"), CHOICES)
def test_choice(text, want):
    got = a.choice(text, "ABCDE")
    assert got.letter == want
    assert got.valid == (want is not None)


# ----------------------------------------------------------------------- the official readers

VIDEOMME = [
    ("The best answer is B", "B"),
    ("B", "B"),
    ("(C) a cat", "C"),
    ("Answer: D", "D"),  # "Answer:" is a prefix of the current list: removed, then D
    ("Option: C", "C"),
    ("Based on the video, the answer is C", "B"),  # first capital A–D anywhere: "Based"
    ("The best option is D", "D"),  # that prefix is never removed (missing comma), 'D' still found
    ("I cannot tell", None),
    ("none of them fits the scene at all really, sorry about that friend", None),
    ("", None),
    ("d", None),  # lower case never matches
]


@pytest.mark.parametrize(("text", "want"), VIDEOMME)
def test_videomme_official_reader(text, want):
    assert a.videomme_choice(text).letter == want


def test_videomme_prefix_list_keeps_its_missing_commas():
    # "The best option is" + "The correct option is" fused: neither is removed alone
    assert a.videomme_choice("The correct option is B").letter == "B"
    assert a.videomme_choice("Best answer: D").letter == "B"  # 'B' of "Best" comes first
    assert a.videomme_choice("The best answer is D").letter == "D"  # removed: D
    # the README's parser (parse_answer afd52cf) removes "Answer:": the old list read the A
    assert a.videomme_choice("Answer: B").letter == "B"
    assert a.videomme_choice("The correct answer B").letter == "B"


VIDEOMIND = [
    ("B", "B"),
    ("(B) text", "B"),
    ("b.", "B"),
    ("C) yes", "C"),
    ("Best option", "B"),  # first character of the first token
    ("The answer is A", None),  # 't'
    ("E", None),  # only 4 options
    ("", None),
    (" A", None),  # leading space: empty first token
]


@pytest.mark.parametrize(("text", "want"), VIDEOMIND)
def test_videomind_reader(text, want):
    assert a.videomind_choice(text, 4).letter == want


LVBENCH = [
    ("(A) the dog", "A"),
    ("B) cat", "B"),
    ("C", "C"),
    ("The answer is B", "T"),  # polish_answer keeps the first character of the first word
    ("  (D)", "D"),
    ("", None),
    (")", None),
]


@pytest.mark.parametrize(("text", "want"), LVBENCH)
def test_lvbench_reader(text, want):
    assert a.lvbench_choice(text).letter == want


@pytest.mark.parametrize(
    ("text", "official", "lmms"),
    [
        ("B) the man", "B", "B"),
        ("(A) dog", "A", "A"),  # official: the one character before ")"
        ("C", "C", "C"),
        (" D ) x", " ", "D"),  # official: the space before ")"; lmms-eval: "D " (letter + space)
        ("A. The man", "A. The man", "A"),  # no ")": the whole text; lmms-eval: leading letter
        (" B", " B", "B"),  # never stripped
        (")B", None, "B"),  # nothing before ")"
        ("", None, None),
    ],
)
def test_mlvu_readers(text, official, lmms):
    assert a.mlvu_choice(text).letter == official
    assert a.mcq_answer(text).letter == lmms


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("The answer is (C).", "C"),  # "(C)" and the phrase: the phrase (7) beats parentheses (6)
        ("I choose D", "D"),  # the trailing letter (9) beats the phrase (7)
        ("A is wrong; I choose D", "A"),  # "A " leads the text: the start (10) wins
        ("B. no, wait: (C)", "B"),  # a leading letter (10) wins
        ("I think (A) or (B)", "B"),  # same format: the later one
        ("xyz", None),
        ("Clearly", "C"),  # fallback: any occurrence
    ],
)
def test_lmms_eval_mcq_answer(text, want):
    assert a.mcq_answer(text).letter == want


def test_lmms_eval_strips_reasoning():
    assert a.strip_reasoning("<think>A or B</think> C") == "C"
    assert a.strip_reasoning("it is A</think> C</think>D") == "D"  # prefilled <think>: last part
    assert a.strip_reasoning("<analysis>x</analysis>B <think>unclosed") == "B <think>unclosed"


@pytest.mark.parametrize(
    ("text", "letters"),
    [
        ('```json\n{"result": "B"}\n```', ("B",)),
        ('```json\n{"result": B}\n```', ("B",)),  # bare letter quoted by the official fix-up
        ("I think A or maybe C", ("I", "A", "C")),  # every standalone capital A–H… and I? no
        ("Answer: D", ("D",)),
        ("no letter here", ()),
    ],
)
def test_cgbench_reader(text, letters):
    want = tuple(x for x in letters if x in "ABCDEFGH")
    assert a.cgbench_choice(text).letters == want


def test_cgbench_null_result_is_an_answer():
    # post_process compares right_answer with the parsed null: 0, no fallback to letters
    assert a.cgbench_choice('```json\n{"result":null}\n``` B').letters == ("None",)


# ----------------------------------------------------------------------- spans

SPANS = [
    ("from 3.5 to 7 seconds", [(3.5, 7)]),
    ("From 3.5s to 7.0s.", [(3.5, 7)]),
    ("3.5s - 7s", [(3.5, 7)]),
    ("3.5-7", [(3.5, 7)]),
    ("3.5 – 7.0", [(3.5, 7)]),
    ("3.5 ~ 7.0 sec", [(3.5, 7)]),
    ("[3.5, 7.0]", [(3.5, 7)]),
    ("(3.5, 7.0)", [(3.5, 7)]),
    ("[[1, 2], [3, 4]]", [(1, 2), (3, 4)]),
    ("00:01:05 to 00:01:10", [(65, 70)]),
    ("1:05-1:10", [(65, 70)]),
    ("between 3 and 7 seconds", [(3, 7)]),
    ("The event starts at 3.5 seconds and ends at 7 seconds.", [(3.5, 7)]),
    ("Start time: 3.5, End time: 7.0", [(3.5, 7)]),
    ('{"start": 3.5, "end": 7.0}', [(3.5, 7)]),
    ("<answer>3.5 - 7</answer>", [(3.5, 7)]),
    ("<answer> 12.50 - 18.00 </answer>", [(12.5, 18)]),
    (
        "<think>look at <span>0 - 30</span><fps>1</fps></think><answer>12.5 - 18.0</answer>",
        [(12.5, 18)],
    ),
    ("<span>6.50 - 10.50</span>", [(6.5, 10.5)]),
    ("<span>6.50 - 10.50</span><fps>2</fps>", [(6.5, 10.5)]),
    ("The relevant moment happens in 10.0 - 20.0 seconds.", [(10, 20)]),
    ("It happens at 7.0 - 3.0", [(7, 3)]),  # reversed stays reversed
    ("first 1-2 then 5 to 9", [(1, 2), (5, 9)]),
    ("until 20s from 5s", []),
    ("at 5 s", []),
    ("no times here", []),
    ("", []),
    ("<think>0 - 30</think>nothing", []),
]


@pytest.mark.parametrize(("text", "want"), SPANS)
def test_parse_spans(text, want):
    got = a.parse_spans(text)
    assert [(w.start, w.end) for w in got.windows] == [tuple(map(float, p)) for p in want]
    assert got.valid == bool(want)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("The event happens from 7 to 3 seconds", (3, 7)),  # swapped
        ("20.8 - 30.0 and 1 - 2", (20.8, 30)),  # first pair only
        ("it starts at 4 seconds.\nit ends at 9 seconds.", (4, 9)),  # keyword sentences
        ("starts at 00:00:18 and ends at 00:00:23", (18, 23)),  # clock times, paired
        ("It happens in 1:05 - 1:10.", (65, 70)),  # m:ss range (v0.7.2; the old reader: 1-5)
        ("the moment is 15.5 – 21.0", (15.5, 21)),  # en dash; no keyword: every sentence
        ("it happens in 1:00:05 – 1:00:10", (3605, 3610)),  # h:mm:ss range
        ("3..5 - 4", (4, 5)),
        ("nothing", None),
    ],
)
def test_lmms_eval_spans(text, want):
    got = a.lmms_eval_spans(text).window
    assert (None if got is None else (got.start, got.end)) == want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ('```json\n{"result": [[10, 20], [30, 40]]}\n```', [(10, 20), (30, 40)]),
        ('```json\n{"result": [0.1, 0.2]}\n```', [(0.1, 0.2)]),  # flat: numbers, no scaling
        ('```json\n{"result": "none"}\n```', []),  # no numbers: IoU 0, still scored
        ('```json\n{"result": null}\n```', []),  # a falsy result: no interval
        ('```json\n{"result": [[1, 4], [3, 8, 0.9]]}\n```', [(1, 4), (3, 8)]),  # merged away
        ('```json\n{"result": [[3, 8, 0.9], [10, 12]]}\n```', None),  # unpacked: 5 numbers
        ("clues at 5 to 9 and 12 - 15 and 99", None),  # odd count: no score
        ("3 5 4 8", None),  # overlapping pairs: the official merge crashes, no score
        ("1-3", [(1, -3)]),  # "-3" is a number
        ("", None),
    ],
)
def test_cgbench_intervals(text, want):
    got = a.cgbench_intervals(text)
    assert (None if got is None else [(w.start, w.end) for w in got]) == want


def test_answer_region():
    assert a.answer_region("<think>x</think>y") == "y"
    assert a.answer_region("pre <answer>A</answer> <answer>B</answer>") == "B"
    assert a.answer_region("<think>never closed").strip() == ""
    assert a.answer_region("plain") == "plain"


# ----------------------------------------------------------------------- totality

READERS = [
    lambda t: a.choice(t),
    a.videomme_choice,
    lambda t: a.videomind_choice(t, 4),
    a.lvbench_choice,
    a.mlvu_choice,
    a.mcq_answer,
    a.cgbench_choice,
    a.parse_spans,
    a.lmms_eval_spans,
    lambda t: a.Spans(a.cgbench_intervals(t) or ()),
]

TAGS = ["<answer>", "</answer>", "<think>", "</think>", "<span>", "</span>", "<fps>", "</fps>"]
WORDS = [" to ", " seconds", "```json", "```", "result", "9" * 60]
ALPHABET = st.sampled_from(
    [*"0123456789 .:-–~,[]()<>/{}\"'ABCDEabcde\nstoandfrmeplSE", *TAGS, *WORDS]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(ALPHABET, max_size=40).map("".join))
def test_readers_never_raise(text):
    for read in READERS:
        out = read(text)
        assert isinstance(out, (a.Choice, a.Spans))
        if isinstance(out, a.Spans):
            assert all(isinstance(w, W) for w in out.windows)


@pytest.mark.parametrize(
    "token, want",
    [("2", 2.0), ("2.", 2.0), (".5", 0.5), ("1:05", 65.0), ("0:01:05.5", 65.5), ("-0:05", -5.0)],
)
def test_one_time_grammar_for_requests_and_answers(token, want):
    """The request grammar and the answer parser read times alike (``.5`` included)."""
    from framescope.retrieval.grammar import parse_request

    assert a.seconds(token) == want
    if want >= 0:
        assert a.parse_spans(f"{token} - 99").window == W(want, 99.0)
        request = parse_request(f"<span>{token} - 99</span><fps>.5</fps>")
        assert request.window == W(want, 99.0) and request.fps == 0.5

"""DynFrame's request grammar: tolerant reading, total parsing, formatting, validation."""

from __future__ import annotations

from dataclasses import asdict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from framescope.errors import ConfigError
from framescope.retrieval.grammar import (
    Accepted,
    Budgets,
    InvalidRequest,
    Rejected,
    Used,
    format_request,
    parse_request,
    rejection_note,
    validate,
)
from framescope.types import RetrievalRequest, Window


@pytest.mark.parametrize(
    "text, start, end, fps",
    [
        ("<span>6.50 - 10.50</span><fps>2</fps>", 6.5, 10.5, 2),
        ("<span>2 - 5</span><fps>1</fps>", 2, 5, 1),
        ("<span>1.50 - 3</span><fps>0.5</fps>", 1.5, 3, 0.5),
        ("<span>0.83 - 19.86</span><fps>2</fps>", 0.83, 19.86, 2),
        ("<span> 2 -5 </span> <fps> 4 </fps>", 2, 5, 4),
        ("<span>\n2\n-\n5\n</span>\n<fps>\n3\n</fps>", 2, 5, 3),
        ("<span>2–5</span><fps>3</fps>", 2, 5, 3),  # en dash
        ("<span>2 — 5</span><fps>3</fps>", 2, 5, 3),  # em dash
        ("<span>2 ~ 5</span><fps>3</fps>", 2, 5, 3),
        ("<span>2 to 5</span><fps>3</fps>", 2, 5, 3),
        ("<span>2, 5</span><fps>3</fps>", 2, 5, 3),
        ("<span>[2, 5]</span><fps>3</fps>", 2, 5, 3),
        ("<span>(2.0 - 5.0)</span><fps>3</fps>", 2, 5, 3),
        ("<span>2s - 5s</span><fps>3</fps>", 2, 5, 3),
        ("<span>2 sec - 5 seconds</span><fps>3</fps>", 2, 5, 3),
        ("<span>2.5 SECONDS - 5</span><fps>3 fps</fps>", 2.5, 5, 3),
        ("<span>1:05 - 1:10</span><fps>2</fps>", 65, 70, 2),
        ("<span>0:01:05.5 - 0:01:10</span><fps>2</fps>", 65.5, 70, 2),
        ("<span>.5 - 2.</span><fps>.25</fps>", 0.5, 2, 0.25),
        ("<span>2 - 5</span><fps>2 frames per second</fps>", 2, 5, 2),
        ("<span>2 - 5</span><fps>30</fps>", 2, 5, 30),
        ("<span>-1 - 5</span><fps>2</fps>", -1, 5, 2),  # read; validation clamps it
        ("<span>9 - 3</span><fps>2</fps>", 9, 3, 2),  # read; validation rejects it
        ("<span>2 - 5</span><fps>0</fps>", 2, 5, 0),  # read; validation rejects it
        ("<span>2 - 5</span><fps>2</fps>  \n", 2, 5, 2),  # trailing whitespace
        # only the last span/fps pair counts
        ("<span>1 - 2</span><fps>1</fps> then <span>3 - 4</span><fps>2</fps>", 3, 4, 2),
        ("Let me look. <span>7 - 9</span><fps>8</fps>", 7, 9, 8),
    ],
)
def test_reads_tolerant_spellings(text: str, start: float, end: float, fps: float) -> None:
    request = parse_request(text)
    assert isinstance(request, RetrievalRequest), request
    assert request.window == Window(start, end) and request.fps == fps
    assert request.text.startswith("<span>") and request.text.endswith("</fps>")


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "does not end with </fps>"),
        ("no request here", "does not end with </fps>"),
        ("<span>2 - 5</span><fps>2", "does not end with </fps>"),
        ("<span>2 - 5</span>2</fps>", "</fps> without <fps>"),
        ("<fps>2</fps>", "no <span>…</span> right before"),
        ("<span>2 - 5</span> and then <fps>2</fps>", "no <span>…</span> right before"),
        ("2 - 5</span><fps>2</fps>", "</span> without <span>"),
        ("<span>soon</span><fps>2</fps>", "cannot read a window"),
        ("<span></span><fps>2</fps>", "cannot read a window"),
        ("<span>5</span><fps>2</fps>", "cannot read a window"),
        ("<span>1 - 2 - 3</span><fps>2</fps>", "cannot read a window"),
        ("<span>2 - 5</span><fps>fast</fps>", "cannot read a density"),
        ("<span>2 - 5</span><fps></fps>", "cannot read a density"),
        ("<span>2 - 5</span><fps>2 - 3</fps>", "cannot read a density"),
        ("<span>1e999 - 5</span><fps>2</fps>", "cannot read a window"),
        ("<span>2 - 5</span><fps>1" + "0" * 400 + "</fps>", "finite"),
    ],
)
def test_invalid_text_gives_a_reason(text: str, reason: str) -> None:
    request = parse_request(text)
    assert isinstance(request, InvalidRequest)
    assert reason in request.reason


@given(st.text(max_size=60))
def test_parse_is_total(text: str) -> None:
    for candidate in (text, text + "</fps>", f"<span>{text}</span><fps>{text}</fps>"):
        assert isinstance(parse_request(candidate), (RetrievalRequest, InvalidRequest))


@given(
    st.floats(0, 5000, allow_nan=False),
    st.floats(0.01, 500, allow_nan=False),
    st.sampled_from([0.25, 0.5, 1, 2, 3, 7.5, 30]),
)
def test_format_then_parse_round_trips(start: float, length: float, fps: float) -> None:
    window = Window(round(start, 2), round(start + length, 2))
    request = parse_request("reasoning " + format_request(window, fps))
    assert isinstance(request, RetrievalRequest)
    assert request.window == window and request.fps == fps


def test_format_matches_dynframe_data() -> None:
    assert format_request(Window(6.5, 10.5), 2) == "<span>6.50 - 10.50</span><fps>2</fps>"
    assert format_request(Window(0.83, 19.86), 0.5) == "<span>0.83 - 19.86</span><fps>0.5</fps>"
    assert rejection_note("x") == "\n[retrieval rejected: x]\n"


def req(start: float, end: float, fps: float) -> RetrievalRequest:
    return RetrievalRequest(Window(start, end), fps, "<span>…</span><fps>…</fps>")


def test_accepts_and_clamps() -> None:
    ok = validate(req(2, 5, 2), 20.0, Budgets(), Used())
    assert isinstance(ok, Accepted) and ok.window == Window(2, 5) and ok.fps == 2 and not ok.notes
    clamped = validate(req(-1, 25, 0.5), 20.0, Budgets(), Used())
    assert isinstance(clamped, Accepted) and clamped.window == Window(0, 20)
    assert "clamped" in clamped.notes[0]


@pytest.mark.parametrize(
    "request_, used, reason",
    [
        (req(9, 3, 2), Used(), "not before its end"),
        (req(3, 3, 2), Used(), "not before its end"),
        (req(2, 5, 0), Used(), "fps must be in (0, 30]"),
        (req(2, 5, -1), Used(), "fps must be in (0, 30]"),
        (req(2, 5, 31), Used(), "got 31"),
        (req(25, 30, 2), Used(), "outside the video"),
        (req(-5, -1, 2), Used(), "outside the video"),
        (req(2, 5, 2), Used(rounds=3), "limit of 3 retrievals"),
        (InvalidRequest("<span>x</span><fps>2</fps>", "cannot read"), Used(), "cannot read"),
    ],
)
def test_rejects_with_a_reason(request_, used: Used, reason: str) -> None:
    decision = validate(request_, 20.0, Budgets(), used)
    assert isinstance(decision, Rejected) and reason in decision.reason
    assert decision.request is request_


def test_fractional_and_custom_limits() -> None:
    assert isinstance(validate(req(0, 20, 0.1), 20.0, Budgets(), Used()), Accepted)
    strict = Budgets(max_fps=2, max_rounds=1)
    assert isinstance(validate(req(0, 2, 2), 20.0, strict, Used()), Accepted)
    assert isinstance(validate(req(0, 2, 2.5), 20.0, strict, Used()), Rejected)
    assert isinstance(validate(req(0, 2, 1), 20.0, strict, Used(rounds=1)), Rejected)


def test_visual_token_budget() -> None:
    def cost(window: Window, fps: float) -> int:  # 10 tokens per frame
        return round(window.duration * fps) * 10

    budgets = Budgets(max_visual_tokens=1000)
    assert isinstance(validate(req(0, 10, 2), 60.0, budgets, Used(1, 800), cost), Accepted)
    over = validate(req(0, 10, 2), 60.0, budgets, Used(1, 801), cost)
    assert (
        isinstance(over, Rejected)
        and over.reason == "needs 200 visual tokens, 199 left in the budget"
    )
    # the cost is of the clamped window
    seen = []
    validate(req(50, 90, 1), 60.0, budgets, Used(), lambda w, f: seen.append(w) or 0)
    assert seen == [Window(50, 60)]


def test_budgets_report_as_plain_numbers() -> None:
    assert asdict(Budgets().report()) == {
        "max_frames": 128,
        "max_rounds": 3,
        "max_fps": 30.0,
        "max_visual_tokens": 32768,
        "fixed_fps": None,
    }


def test_impossible_budgets_are_refused() -> None:
    for bad in ({"max_frames": 1}, {"max_rounds": -1}, {"max_fps": 0}, {"max_visual_tokens": -5}):
        with pytest.raises(ConfigError, match="bad retrieval budgets"):
            Budgets(**bad)

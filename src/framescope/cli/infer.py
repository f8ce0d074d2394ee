"""Inference commands: ``infer`` (a question about a video, any method) and ``demo``.

``infer``'s settings flags come from :class:`~framescope.settings.BackendConfig`,
:class:`~framescope.settings.InferConfig` and :class:`~framescope.settings.AgentConfig`
(``framescope infer --help`` lists them with their defaults)."""

from __future__ import annotations

import argparse
from typing import Any

from framescope import config as cfgs
from framescope.errors import FramescopeError


def add_settings(p: argparse.ArgumentParser, skip: tuple[str, ...] = ()) -> list[str]:
    """The settings flags of ``infer`` / ``eval`` / ``serve``: the checkpoint, the run, the
    agent, each in its own help group; returns their dotted keys (under ``backend.``,
    ``infer.``, ``agent.``)."""
    from framescope.settings import AgentConfig, BackendConfig, InferConfig

    keys = []
    for prefix, cls, title in (
        ("backend", BackendConfig, "model"),
        ("infer", InferConfig, "inference"),
        ("agent", AgentConfig, "VideoMind (--method videomind, a VideoMind checkpoint as --model)"),
    ):
        group = p.add_argument_group(title)
        keys += cfgs.add_arguments(group, cls, prefix + ".", skip)
    return keys


def with_model_defaults(given: dict[str, Any]) -> dict[str, Any]:
    """``given`` settings data over the shipped model's own inference settings when the model
    is the shipped one (the frame rates and token counts it was trained for)."""
    from framescope.models.default import DEFAULT, default_infer_data

    if given.get("backend", {}).get("model", DEFAULT) != DEFAULT:
        return given
    return cfgs.merge(default_infer_data(), given)


def settings(args: argparse.Namespace, keys: list[str]) -> tuple[Any, Any, Any]:
    """``(BackendConfig, InferConfig, AgentConfig)`` from the flags given (defaults elsewhere)."""
    from framescope.settings import AgentConfig, BackendConfig, InferConfig

    given = with_model_defaults(cfgs.given_arguments(args, keys))
    return (
        cfgs.build(BackendConfig, given.get("backend", {}), "backend."),
        cfgs.build(InferConfig, given.get("infer", {}), "infer."),
        cfgs.build(AgentConfig, given.get("agent", {}), "agent."),
    )


def quiet_transformers() -> None:
    """No progress bars or advisory warnings from transformers on the command line."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def printable(text: str) -> str:
    """Model text for a terminal: control characters escaped (random weights write any byte)."""
    return "".join(c if c.isprintable() or c == "\n" else f"\\x{ord(c):02x}" for c in text)


def print_trace(trace) -> None:  # trace: framescope.types.Trace
    """The answer, the evidence windows and a one-line budget summary."""
    answer = trace.answer
    letter = f" (option {answer.letter})" if answer.letter else ""
    print(f"answer{letter}: {printable(answer.text) or '(none)'}")
    response = printable(trace.response)
    print(f"response: {response[:300]}{'…' if len(response) > 300 else ''}")
    if answer.windows:
        print("answer windows: " + ", ".join(str(w) for w in answer.windows))
    for k, step in enumerate(trace.steps, 1):
        if step.status == "fetched" and step.evidence is not None:
            ev = step.evidence
            asked = f" (asked {step.request.text})" if step.request else ""
            forced = " [prefilled]" if step.request and step.request.text in step.forced else ""
            print(
                f"evidence {k}: {ev.window} — {ev.frames} frames at {ev.fps:.2f} fps, "
                f"{ev.frame_size[1]}x{ev.frame_size[0]} px, {ev.visual_tokens} visual tokens"
                f"{asked}{forced}"
            )
            for note in ev.notes:
                print(f"  note: {note}")
        elif step.status == "rejected":
            print(f"rejected {k}: {step.reason}")
    u, b = trace.usage, trace.budgets  # b: RetrievalBudgets, or None without retrieval
    rounds = f"{u.rounds}/{b.max_rounds} retrievals" if b else "no retrieval"
    limit = f"/{b.max_visual_tokens}" if b else ""
    print(
        f"budget: {rounds}, {u.rejected} rejected, {u.visual_tokens}{limit} visual tokens, "
        f"{u.frames} frames, {u.prompt_tokens} prompt + {u.generated_tokens} generated "
        f"tokens, {trace.seconds:.1f} s (stop: {trace.stop_reason})"
    )


def cmd_infer(args: argparse.Namespace) -> int:
    from framescope.errors import ConfigError
    from framescope.models.folders import check_method
    from framescope.video.probe import probe

    # everything cheap first (milliseconds, no torch): the question, the settings, the model
    # folder, the video; then the imports and the model
    question = args.question.strip()
    if not question:
        raise ConfigError("the question is empty")
    backend_cfg, infer_cfg, agent_cfg = settings(args, args.setting_keys)
    model = check_method(backend_cfg.model, args.method)
    probe(args.video)

    from framescope.fileio import write_json
    from framescope.methods import make_method
    from framescope.models.hf import load_backend
    from framescope.types import Sample

    method = make_method(args.method, agent_cfg)
    quiet_transformers()
    backend = load_backend(
        model,
        dtype=backend_cfg.dtype,
        device=backend_cfg.device,
        attn_implementation=backend_cfg.attn,
        base_model=backend_cfg.base_model,
        roles=backend_cfg.roles,
    )
    sample = Sample(
        "cli", args.video, question, tuple(args.options or ()), args.prefill, args.subtitles
    )
    trace = method.run(backend, [sample], infer_cfg)[0]
    if trace.error:
        raise FramescopeError(trace.error)
    if args.trace:
        write_json(args.trace, trace.to_dict())
    (print_agent_trace if args.method == "videomind" else print_trace)(trace)
    if args.trace:
        print(f"trace: {args.trace}")
    return 0


def print_agent_trace(trace) -> None:  # trace: framescope.types.Trace
    """VideoMind: the answer, the ranked moments, one line per role call, a usage summary."""
    answer = trace.answer
    letter = f" (option {answer.letter})" if answer.letter else ""
    print(f"answer{letter}: {printable(answer.text) or '(none)'}")
    roles = list(dict.fromkeys(s.role for s in trace.steps))
    print("route: " + " → ".join(roles))
    print("moments (start, end, score):")
    for k, (w, score) in enumerate(zip(answer.windows, answer.scores), 1):
        print(f"  {k}. {w.start:.2f} {w.end:.2f} {score:.4f}")
    if not answer.windows:
        print("  (none: nothing was grounded)")
    for step in trace.steps:
        ev = step.evidence
        seen = (
            f"{ev.window} at {ev.fps:.2f} fps, {ev.frames} frames, {ev.visual_tokens} visual tokens"
            if ev
            else "no clip"
        )
        if step.role == "verifier":
            cand = step.candidates[0] if step.candidates else None
            what = f"{cand} → {step.scores[0]:.4f}" if cand and step.scores else ""
        elif step.role == "grounder":
            what = f"{len(step.candidates)} candidates; reply {printable(step.text)[:80]!r}"
        else:
            what = f"reply {printable(step.text)[:120]!r}"
        adapter = step.adapter or "base model"
        note = f" [{step.reason}]" if step.reason else ""
        print(f"{step.role} ({adapter}, {step.seconds:.2f} s): {what}; saw {seen}{note}")
    u = trace.usage
    print(
        f"usage: {u.role_calls} role calls, {u.frames} frames, {u.visual_tokens} visual tokens, "
        f"{u.prompt_tokens} prompt + {u.generated_tokens} generated tokens, "
        f"{trace.seconds:.1f} s (stop: {trace.stop_reason})"
    )


def cmd_demo(args: argparse.Namespace) -> int:
    from framescope.fileio import output_folder

    output_folder(args.out, args.overwrite)
    quiet_transformers()
    from framescope.demo import print_result, run_demo

    print_result(run_demo(args.out, seed=args.seed, grounding=args.grounding, device=args.device))
    return 0


def add(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "demo",
        parents=[common],
        help="the trained default model answers questions about a video synthesised now "
        "(counting, grounding, multiple choice), checked against the exact ground truth",
    )
    p.add_argument(
        "--out", default="demo_out", help="output folder, must be empty (default: demo_out)"
    )
    p.add_argument("--overwrite", action="store_true", help="clear a non-empty --out first")
    p.add_argument("--seed", type=int, default=0, help="which demo video (default 0)")
    p.add_argument(
        "--grounding",
        default="videomind",
        choices=["videomind", "dynframe"],
        help="which method answers the grounding questions (default videomind)",
    )
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "infer",
        parents=[common],
        help="answer a question about a video (direct, dynframe, videomind; the shipped model "
        "unless --model names a local checkpoint)",
    )
    p.add_argument("video")
    p.add_argument("--question", required=True, help="the question about the video")
    p.add_argument("--method", default="dynframe", choices=["direct", "dynframe", "videomind"])
    p.add_argument("--trace", metavar="out.json", help="write the full trace as JSON here")
    p.add_argument("--options", nargs="+", metavar="TEXT", help="answer options (A, B, …)")
    p.add_argument(
        "--prefill", default="", help="force the start of the answer (e.g. a first request)"
    )
    p.add_argument("--subtitles", metavar="FILE.srt", help="subtitles for VideoMind's answerer")
    p.set_defaults(func=cmd_infer, setting_keys=add_settings(p))

"""Inference commands: ``infer`` (a question about a video, any method) and ``demo``.

``infer``'s settings flags come from :class:`~framescope.settings.BackendConfig`,
:class:`~framescope.settings.InferConfig` and :class:`~framescope.settings.AgentConfig`
(``framescope infer --help`` lists them with their defaults)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from framescope import config as cfgs
from framescope.config import number
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


def settings(args: argparse.Namespace, keys: list[str]) -> tuple[Any, Any, Any]:
    """``(BackendConfig, InferConfig, AgentConfig)`` from the flags given (defaults elsewhere)."""
    from framescope.settings import AgentConfig, BackendConfig, InferConfig

    given = cfgs.given_arguments(args, keys)
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


def _demo_infer(out: Path, video: Path, window, description: str, fps: float, seed: int) -> None:
    """``infer --method dynframe`` on the demo video with a tiny random-weight Qwen3-VL; the first
    request is prefilled (a random model would almost never write one)."""
    from framescope.fileio import write_json
    from framescope.methods import DynFrame, InferConfig, Sample
    from framescope.models.hf import load_backend
    from framescope.models.tiny import save_tiny_model
    from framescope.retrieval.grammar import format_request

    quiet_transformers()
    model = save_tiny_model("qwen3_vl", out / "tiny_qwen3_vl", seed=seed, overwrite=True)
    request = format_request(window, fps)
    sample = Sample(
        "demo",
        str(video),
        f"When does this happen: {description}? Answer in seconds.",
        prefill=f"<think>Let me look closer. {request}",
    )
    trace = DynFrame().run(load_backend(model), [sample], InferConfig(max_new_tokens=32))[0]
    write_json(out / "infer_trace.json", trace.to_dict())
    print(f"\ninfer --method dynframe with a tiny Qwen3-VL ({model})")
    print("random weights: the text is noise; this shows the pipeline")
    print(f"the first request was prefilled: {request}")
    print_trace(trace)
    print(f"trace: {out / 'infer_trace.json'}")


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
    check_method(backend_cfg.model, args.method)
    probe(args.video)

    from framescope.fileio import write_json
    from framescope.methods import make_method
    from framescope.models.hf import load_backend
    from framescope.types import Sample

    method = make_method(args.method, agent_cfg)
    quiet_transformers()
    backend = load_backend(
        backend_cfg.model,
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
    from framescope.fileio import output_folder, write_json, write_png
    from framescope.synth import demo_video
    from framescope.types import Window
    from framescope.video.probe import probe
    from framescope.video.sampling import sample
    from framescope.viz import contact_sheet

    out = output_folder(args.out, args.overwrite)
    t0 = time.perf_counter()
    video, event = demo_video(out / "demo.mp4", seed=args.seed)
    info = probe(video)
    overview = sample(info, num_frames=16)
    zoom = sample(info, Window(event.window.start, event.window.end), fps=args.fps)
    report = {
        "video": info.to_dict(),
        "event": event.to_dict(),
        "overview": {
            "frames": len(overview),
            "timestamps": overview.timestamps,
            "notes": overview.notes,
        },
        "zoom": {
            "window": zoom.window.to_list() if zoom.window else None,
            "fps": args.fps,
            "frames": len(zoom),
            "frame_size": list(zoom.frames.shape[1:3]),
            "timestamps": zoom.timestamps,
            "notes": zoom.notes,
        },
        "seconds": round(time.perf_counter() - t0, 3),
    }
    for name, clip, title in [
        (
            "overview.png",
            overview,
            f"uniform overview: {len(overview)} frames of {info.duration:.1f} s",
        ),
        ("zoom.png", zoom, f"span {zoom.window} at {args.fps:g} fps: {len(zoom)} frames"),
    ]:
        write_png(out / name, contact_sheet(clip, title=title))
    write_json(out / "report.json", report)
    print(f"synthetic video: {video} ({info.duration:.1f} s, {info.width}x{info.height})")
    print(f"event: {event.description} at {event.window}")
    print(
        f"overview: {len(overview)} frames; zoom: {len(zoom)} frames at {args.fps:g} fps from {zoom.window}"
    )
    print(
        f"report: {out / 'report.json'}, contact sheets: {out / 'overview.png'}, {out / 'zoom.png'}"
    )
    _demo_infer(out, video, event.window, event.description, args.fps, args.seed)
    return 0


def add(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "demo",
        parents=[common],
        help="synthesise a video, sample it, run dynframe with a tiny random model (no downloads)",
    )
    p.add_argument(
        "--out", default="demo_out", help="output folder, must be empty (default: demo_out)"
    )
    p.add_argument("--overwrite", action="store_true", help="clear a non-empty --out first")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--fps", type=number, default=4.0, help="density of the zoomed-in span (default 4)"
    )
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "infer",
        parents=[common],
        help="answer a question about a video with a local checkpoint (direct, dynframe, videomind)",
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

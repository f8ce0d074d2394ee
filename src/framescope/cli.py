"""The ``framescope`` command.

Every subcommand is a ``cmd_*`` function taking the parsed arguments. Library errors
(:class:`FramescopeError`, and OS errors such as a missing output folder) become one line on stderr
and exit code 1; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from framescope.errors import FramescopeError

EXIT_ERROR = 1
EXIT_INTERNAL = 3


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    return value


def cmd_probe(args: argparse.Namespace) -> int:
    from framescope.video.probe import probe

    info = probe(args.video)
    print(json.dumps(info.to_dict(timestamps=args.timestamps), indent=2))
    return 0


def _budget(args: argparse.Namespace):  # -> PixelBudget | None
    from framescope.video.sampling import PixelBudget

    if args.native:
        return None
    base = PixelBudget.for_family(args.family)
    return PixelBudget(
        min_pixels=args.min_pixels if args.min_pixels is not None else base.min_pixels,
        max_pixels=args.max_pixels if args.max_pixels is not None else base.max_pixels,
        factor=base.factor,
    )


def cmd_sample(args: argparse.Namespace) -> int:
    from PIL import Image

    from framescope.fileio import write_json, write_png
    from framescope.types import Window
    from framescope.video.probe import probe
    from framescope.video.sampling import sample

    info = probe(args.video)
    window = None
    if args.start is not None or args.end is not None:
        window = Window(
            args.start if args.start is not None else 0.0,
            args.end if args.end is not None else info.duration,
        )
    clip = sample(
        info,
        window,
        fps=args.fps,
        num_frames=args.num_frames,
        max_frames=args.max_frames,
        min_frames=args.min_frames,
        budget=_budget(args),
        exact=args.exact,
        decoder=args.decoder,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for k, (frame, t) in enumerate(zip(clip.frames, clip.timestamps)):
        write_png(out / f"frame_{k:04d}_{t:010.3f}s.png", Image.fromarray(frame))
    write_json(out / "timestamps.json", [round(t, 6) for t in clip.timestamps], indent=None)
    h, w = clip.frames.shape[1:3]
    print(f"{len(clip)} frames {w}x{h} from {clip.window} → {out}")
    for note in clip.notes:
        print(f"note: {note}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from framescope.demo import print_result, run_demo

    _quiet_transformers()
    print_result(run_demo(args.out, seed=args.seed, grounding=args.grounding, device=args.device))
    return 0


def _quiet_transformers() -> None:
    """No progress bars or advisory warnings from transformers on the command line."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def _printable(text: str) -> str:
    """Model text for a terminal: control characters escaped (random weights write any byte)."""
    return "".join(c if c.isprintable() or c == "\n" else f"\\x{ord(c):02x}" for c in text)


def _print_trace(trace) -> None:  # trace: framescope.types.Trace
    """The answer, the evidence windows and a one-line budget summary."""
    answer = trace.answer
    letter = f" (option {answer.letter})" if answer.letter else ""
    print(f"answer{letter}: {_printable(answer.text) or '(none)'}")
    response = _printable(trace.response)
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
    u, b = trace.usage, trace.budgets
    rounds = f"{u['rounds']}/{int(b['max_rounds'])} retrievals" if b else "no retrieval"
    limit = f"/{int(b['max_visual_tokens'])}" if b else ""
    print(
        f"budget: {rounds}, {u['rejected']} rejected, {u['visual_tokens']}{limit} visual tokens, "
        f"{u['frames']} frames, {u['prompt_tokens']} prompt + {u['generated_tokens']} generated "
        f"tokens, {trace.seconds:.1f} s (stop: {trace.stop_reason})"
    )


def cmd_infer(args: argparse.Namespace) -> int:
    from framescope.errors import ConfigError
    from framescope.fileio import write_json
    from framescope.methods import InferConfig, Sample, get_method
    from framescope.models.engine import Sampling
    from framescope.models.hf import load_backend
    from framescope.retrieval.grammar import Budgets
    from framescope.video.probe import probe

    question = args.question.strip()
    if not question:
        raise ConfigError("the question is empty")
    method = _videomind_method(args) if args.method == "videomind" else get_method(args.method)
    probe(args.video)  # a bad video fails here, before a model is loaded
    _quiet_transformers()
    from framescope.models.default import resolve_model

    backend = load_backend(
        resolve_model(args.model, args.method),
        dtype=args.dtype,
        device=args.device,
        attn_implementation=args.attn,
        base_model=args.base_model,
        roles=args.roles,
    )
    from framescope.models.default import DEFAULT, default_settings

    # unset options: the shipped model's own settings, else the library's defaults
    preset = default_settings() if args.model in (None, DEFAULT) else {}
    settings = {
        k: getattr(args, k)
        if getattr(args, k) is not None
        else preset.get(k, getattr(InferConfig, k))
        for k in ("max_new_tokens", "overview_fps", "overview_max_frames")
    }
    config = InferConfig(
        sampling=Sampling(args.temperature, args.top_p, args.top_k),
        seed=args.seed,
        budgets=Budgets(args.max_frames, args.max_rounds, args.max_fps, args.max_visual_tokens),
        system=args.system,
        **settings,
    )
    sample = Sample(
        "cli", args.video, question, tuple(args.options or ()), args.prefill, args.subtitles
    )
    trace = method.run(backend, [sample], config)[0]
    if trace.error:
        raise FramescopeError(trace.error)
    if args.trace:
        write_json(args.trace, trace.to_dict())
    (_print_agent_trace if args.method == "videomind" else _print_trace)(trace)
    if args.trace:
        print(f"trace: {args.trace}")
    return 0


def _videomind_method(args: argparse.Namespace):  # -> framescope.agent.agent.VideoMindAgent
    """The ``videomind`` method with the command line's agent settings."""
    from framescope.agent.agent import AgentConfig, VideoMindAgent
    from framescope.agent.grounder import GROUNDER_REPLY

    route = tuple(r.strip() for r in args.route.split(",")) if args.route else None
    agent = AgentConfig(
        planner=args.plan,
        verifier_score=args.verifier_score,
        grounder_prefill=GROUNDER_REPLY if args.force_reg else "",
        answer_min_len=args.answer_min_len,
        **({"route": route} if route else {}),
    )
    return VideoMindAgent(agent)


def _print_agent_trace(trace) -> None:  # trace: framescope.types.Trace
    """VideoMind: the answer, the ranked moments, one line per role call, a usage summary."""
    answer = trace.answer
    letter = f" (option {answer.letter})" if answer.letter else ""
    print(f"answer{letter}: {_printable(answer.text) or '(none)'}")
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
            what = f"{len(step.candidates)} candidates; reply {_printable(step.text)[:80]!r}"
        else:
            what = f"reply {_printable(step.text)[:120]!r}"
        adapter = step.adapter or "base model"
        note = f" [{step.reason}]" if step.reason else ""
        print(f"{step.role} ({adapter}, {step.seconds:.2f} s): {what}; saw {seen}{note}")
    u = trace.usage
    print(
        f"usage: {int(u.get('role_calls', 0))} role calls, {int(u.get('frames', 0))} frames, "
        f"{int(u.get('visual_tokens', 0))} visual tokens, {int(u.get('prompt_tokens', 0))} prompt "
        f"+ {int(u.get('generated_tokens', 0))} generated tokens, {trace.seconds:.1f} s "
        f"(stop: {trace.stop_reason})"
    )


def cmd_synth(args: argparse.Namespace) -> int:
    from framescope.video.synth import generate_world

    t0 = time.perf_counter()
    manifest = generate_world(
        args.out,
        seed=args.seed,
        num_videos=args.num_videos,
        duration=(args.min_duration, args.max_duration),
        fps=args.fps,
        size=(args.width, args.height),
        num_objects=(args.min_objects, args.max_objects),
        overwrite=args.force,
    )
    kinds: dict[str, int] = {}
    for video in manifest["videos"]:
        for task in video["tasks"]:
            kinds[task["kind"]] = kinds.get(task["kind"], 0) + 1
    seconds = sum(v["duration"] for v in manifest["videos"])
    print(
        f"synthetic world (seed {args.seed}): {len(manifest['videos'])} videos, {seconds:.0f} s "
        f"in all, {time.perf_counter() - t0:.1f} s to make → {args.out}"
    )
    print("tasks: " + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())))
    for name, rel in manifest["files"].items():
        print(f"{name}: {Path(args.out) / rel}")
    return 0


def cmd_tiny_model(args: argparse.Namespace) -> int:
    from framescope.models.tiny import save_tiny_model

    t0 = time.perf_counter()
    out = save_tiny_model(
        args.family,
        args.out,
        preset=args.preset,
        seed=args.seed,
        overwrite=args.force,
        numbers=args.numbers,
    )
    print(
        f"{args.preset} random-weight {args.family} (seed {args.seed}) → {out} "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from framescope.eval.score import format_table, score, write_result

    result = score(args.benchmark, args.annotations, args.predictions, compat=args.compat)
    print(format_table(result))
    if args.output:
        write_result(args.output, result, args.annotations, args.predictions)
        print(f"\nmetrics: {args.output}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    import dataclasses

    from framescope.eval.runner import EvalConfig, eval_config, evaluate, load_eval_config
    from framescope.eval.score import format_table
    from framescope.models.default import resolve_model

    given = {f.name: getattr(args, f.name, None) for f in dataclasses.fields(EvalConfig)}
    if args.model == "default" or (args.model is None and not args.config):
        from framescope.models.default import default_settings

        given["model"] = resolve_model(None, args.method or "dynframe")
        for key, value in default_settings().items():  # the shipped model's own, unless given
            if given.get(key) is None:
                given[key] = value
    if args.config:
        config = load_eval_config(args.config, **given)
    else:
        config = eval_config({k: v for k, v in given.items() if v is not None})
    _quiet_transformers()
    summary = evaluate(config, progress=True)
    if summary.result is None:  # another rank: rank 0 reports
        return 0
    print(format_table(summary.result))
    failed = sum(summary.failures.values())
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(summary.failures.items()))
    share = f" (rank 0 of {summary.world_size})" if summary.world_size > 1 else ""
    print(
        f"\n{summary.samples} samples, {failed} failed{f' ({kinds})' if kinds else ''}; "
        f"this run{share}: {summary.ran} run, {summary.resumed} already recorded, "
        f"{summary.seconds:.1f} s"
    )
    out = summary.out_dir
    print(f"outputs: {out / 'predictions.jsonl'}, {out / 'metrics.json'}, {out / 'report.html'}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    import os

    from framescope.errors import ConfigError
    from framescope.train.config import load_config

    config = args.config
    if config is None:
        if args.resume is None:
            raise ConfigError(
                "--config PATH is required (or --resume DIR: its config.yaml is used)"
            )
        from framescope.train.checkpoint import find_checkpoint

        config = find_checkpoint(args.resume) / "config.yaml"
    cfg = load_config(config, args.set or [])
    _quiet_transformers()
    if args.trainer == "sft":
        from framescope.train.sft import train_sft as train
    else:
        from framescope.train.grpo.trainer import train_grpo as train
    t0 = time.perf_counter()
    result = train(cfg, resume=args.resume, stop_after=args.stop_after)
    if os.environ.get("RANK", "0") == "0":
        shown = {k: round(v, 4) for k, v in result.last.items() if "loss" in k or k == "reward"}
        print(
            f"{cfg.recipe}: {result.steps} steps in {time.perf_counter() - t0:.1f} s, last {shown}"
        )
        print(f"metrics: {result.output_dir / 'metrics.jsonl'}")
        if result.checkpoint is not None:
            print(f"checkpoint: {result.checkpoint}")
    return 0


def _add_budget_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--family",
        default="qwen2_5_vl",
        choices=["qwen2_vl", "qwen2_5_vl", "qwen3_vl"],
        help="model family whose pixel budget and size factor to use (default: qwen2_5_vl)",
    )
    p.add_argument(
        "--min-pixels", type=int, help="per-frame minimum pixels (default: the family's)"
    )
    p.add_argument(
        "--max-pixels", type=int, help="per-frame maximum pixels (default: the family's)"
    )
    p.add_argument(
        "--native", action="store_true", help="keep the native frame size (no pixel budget)"
    )


def _add_videomind_args(p: argparse.ArgumentParser) -> None:
    """``infer`` options for VideoMind checkpoints and ``--method videomind``."""
    g = p.add_argument_group("VideoMind (--method videomind, a VideoMind checkpoint as --model)")
    g.add_argument(
        "--base-model",
        metavar="PATH",
        help="the base Qwen2-VL folder (default: the one the checkpoint's config names)",
    )
    g.add_argument(
        "--roles",
        nargs="+",
        choices=["planner", "grounder", "verifier"],
        help="load only these role adapters (default: every one in the checkpoint)",
    )
    g.add_argument(
        "--plan", action="store_true", help="run the planner first (the released eval does not)"
    )
    g.add_argument(
        "--route",
        metavar="ROLES",
        help="route without a planner: grounder,verifier,answerer (default), grounder,verifier "
        "or answerer",
    )
    g.add_argument(
        "--verifier-score",
        choices=["logit", "prob"],
        default="logit",
        help="sigmoid(logit_yes - logit_no) (default) or the release's probability variant",
    )
    g.add_argument(
        "--force-reg",
        action="store_true",
        help="force the grounder's reply 'The relevant moment happens in <|reg|>.'",
    )
    g.add_argument(
        "--answer-min-len",
        type=_number,
        default=32.0,
        metavar="SECONDS",
        help="the answer clip is the top moment widened to this length (default 32)",
    )
    g.add_argument("--subtitles", metavar="FILE.srt", help="subtitles for the answerer")


def build_parser() -> argparse.ArgumentParser:
    from framescope.video.decode import DECODERS

    parser = argparse.ArgumentParser(
        prog="framescope",
        description="Temporally grounded video reasoning with multimodal LLMs (VideoMind, DynFrame).",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks instead of one-line errors"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("probe", help="print what a video file holds (JSON)")
    p.add_argument("video")
    p.add_argument(
        "--timestamps", action="store_true", help="include every frame's presentation time"
    )
    p.set_defaults(func=cmd_probe)

    p = sub.add_parser(
        "sample", help="sample a window at a density and write PNG frames + timestamps.json"
    )
    p.add_argument("video")
    p.add_argument("--start", type=_number, help="window start in seconds (default 0)")
    p.add_argument("--end", type=_number, help="window end in seconds (default: end of video)")
    rate = p.add_mutually_exclusive_group(required=True)
    rate.add_argument("--fps", type=_number, help="frames per second to sample (fractions allowed)")
    rate.add_argument("--num-frames", type=int, help="number of frames to sample, evenly spread")
    p.add_argument(
        "--max-frames", type=int, default=768, help="cap on the frame count (default 768)"
    )
    p.add_argument("--min-frames", type=int, default=2, help="floor on the frame count (default 2)")
    p.add_argument(
        "--exact", action="store_true", help="always the nearest frame (no keyframe shortcut)"
    )
    p.add_argument("--decoder", default="pyav", choices=list(DECODERS), help="decoding backend")
    _add_budget_args(p)
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser(
        "demo",
        help="the trained default model answers questions about a video synthesised now "
        "(counting, grounding, multiple choice), checked against the exact ground truth",
    )
    p.add_argument("--out", default="demo_out", help="output folder (default: demo_out)")
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
        help="answer a question about a video with a local checkpoint (direct, dynframe, videomind)",
    )
    p.add_argument("video")
    p.add_argument("--question", required=True, help="the question about the video")
    p.add_argument(
        "--model",
        metavar="PATH",
        help="local checkpoint folder (default, or 'default': the trained model framescope ships)",
    )
    p.add_argument("--method", default="dynframe", choices=["direct", "dynframe", "videomind"])
    p.add_argument("--trace", metavar="out.json", help="write the full trace as JSON here")
    p.add_argument("--options", nargs="+", metavar="TEXT", help="answer options (A, B, …)")
    p.add_argument(
        "--prefill", default="", help="force the start of the answer (e.g. a first request)"
    )
    p.add_argument("--max-new-tokens", type=int, help="sampled tokens (default 1024)")
    p.add_argument("--temperature", type=_number, default=0.0, help="0 = greedy (default)")
    p.add_argument("--top-p", type=_number, default=1.0)
    p.add_argument("--top-k", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-rounds", type=int, default=3, help="retrievals per answer (default 3)")
    p.add_argument("--max-frames", type=int, default=128, help="frames per retrieval (default 128)")
    p.add_argument("--max-fps", type=_number, default=30.0, help="density ceiling (default 30)")
    p.add_argument(
        "--max-visual-tokens",
        type=int,
        default=32768,
        help="visual tokens per answer, overview included (default 32768)",
    )
    p.add_argument(
        "--overview-fps",
        type=_number,
        help="overview density (default 0.5; the default model's own)",
    )
    p.add_argument(
        "--overview-max-frames",
        type=int,
        help="overview frame cap (default 64; the default model's own)",
    )
    p.add_argument("--system", help="system prompt (default: the chat template's)")
    p.add_argument(
        "--dtype", default="auto", help="auto, float32, bfloat16 or float16 (default auto)"
    )
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--attn", help="attention implementation (sdpa, eager, flash_attention_2)")
    _add_videomind_args(p)
    p.set_defaults(func=cmd_infer)

    p = sub.add_parser(
        "synth", help="write a synthetic world: H.264 videos, exact events, benchmark-format tasks"
    )
    p.add_argument("--out", required=True, help="output folder (must be empty unless --force)")
    p.add_argument("--seed", type=int, default=0, help="world seed (default 0)")
    p.add_argument("--num-videos", type=int, default=8, help="number of videos (default 8)")
    p.add_argument("--min-duration", type=int, default=30, help="shortest video, s (default 30)")
    p.add_argument("--max-duration", type=int, default=60, help="longest video, s (default 60)")
    p.add_argument("--fps", type=int, default=10, help="frame rate: 10, 20, 25 or 50 (default 10)")
    p.add_argument("--width", type=int, default=320, help="frame width, even (default 320)")
    p.add_argument("--height", type=int, default=240, help="frame height, even (default 240)")
    p.add_argument(
        "--min-objects", type=int, default=3, help="fewest shapes per video (3-5, default 3)"
    )
    p.add_argument(
        "--max-objects", type=int, default=4, help="most shapes per video (3-5, default 4)"
    )
    p.add_argument("--force", action="store_true", help="replace the world in a non-empty --out")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser(
        "tiny-model", help="write a random-weight Qwen-VL checkpoint folder (offline, for tests)"
    )
    p.add_argument(
        "--family",
        required=True,
        choices=["qwen2_vl", "qwen2_5_vl", "qwen3_vl"],
        help="model family",
    )
    p.add_argument("--out", required=True, help="output folder (must be empty unless --force)")
    p.add_argument(
        "--preset",
        default="tiny",
        choices=["tiny", "train", "small", "7b"],
        help="tiny (tests), train (~1M parameters, trainable on a CPU), small (CPU benchmarks) "
        "or 7b (qwen2_5_vl only; ~16 GB)",
    )
    p.add_argument("--seed", type=int, default=0, help="weight seed (default 0)")
    p.add_argument("--numbers", action="store_true", help="whole tokens for 0-99 and 0.0-99.9")
    p.add_argument("--force", action="store_true", help="replace a non-empty --out")
    p.set_defaults(func=cmd_tiny_model)

    from framescope.eval.benchmarks import BENCHMARKS
    from framescope.eval.score import COMPAT

    p = sub.add_parser(
        "score",
        help="score predictions against a benchmark's official annotation files (offline)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Score predictions with the official evaluation rules of a benchmark; prints a "
        "table, writes JSON with the official metric names (percent) with --output.\n\n"
        + "\n".join(
            f"{b.name}:\n  --annotations: {b.annotation_help}\n  --predictions: {b.prediction_help}"
            f"\n  --compat: {', '.join(b.compat) or '(none)'}"
            for b in BENCHMARKS.values()
        ),
    )
    p.add_argument(
        "benchmark", choices=list(BENCHMARKS), metavar="BENCHMARK", help=", ".join(BENCHMARKS)
    )
    p.add_argument(
        "--annotations",
        nargs="+",
        required=True,
        metavar="PATH",
        help="the benchmark's official annotation file(s) or folder, as distributed",
    )
    p.add_argument(
        "--predictions",
        nargs="+",
        required=True,
        metavar="PATH",
        help="the official result/submission file(s) or framescope prediction JSON lines",
    )
    p.add_argument("--output", metavar="metrics.json", help="write the metrics as JSON here")
    p.add_argument(
        "--compat",
        choices=COMPAT,
        help="reproduce a re-implementation's numbers instead of the official script's",
    )
    p.set_defaults(func=cmd_score)

    p = sub.add_parser(
        "eval",
        help="run a method on a benchmark (resumable, sharded under torchrun), score, report",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run an inference method over every sample of a benchmark (its official files\n"
        "as distributed), score the predictions with the benchmark's official rules and write a\n"
        "report. Output folder: predictions.jsonl (one record per sample), metrics.json,\n"
        "config.yaml, report.md, report.html, plots/. Rerunning into the same folder resumes;\n"
        "under torchrun or accelerate each process runs its share of the batches.\n\n"
        "--data-root layouts:\n"
        + "\n".join(f"  {b.name}: {b.layout.tree}" for b in BENCHMARKS.values())
        + "\n\nPer-sample failures (missing or unreadable video, generation error) are recorded\n"
        "and counted; the exit code is 0 unless the input is bad (1). Prompts: docs/evaluation.md.",
    )
    p.add_argument(
        "benchmark", choices=list(BENCHMARKS), metavar="BENCHMARK", help=", ".join(BENCHMARKS)
    )
    p.add_argument("--data-root", metavar="DIR", help="the benchmark's files (layouts above)")
    p.add_argument(
        "--model",
        metavar="PATH",
        help="local checkpoint folder (default, or 'default': the trained model framescope ships)",
    )
    p.add_argument(
        "--method", help="direct, dynframe or another registered method (default dynframe)"
    )
    p.add_argument("--out", metavar="DIR", help="output folder (default eval_<benchmark>_<method>)")
    p.add_argument("--config", metavar="YAML", help="settings file (keys: the option names with _)")
    p.add_argument("--video-dir", metavar="DIR", help="video folder, instead of the layout's")
    p.add_argument("--compat", choices=COMPAT, help="score as a re-implementation does")
    p.add_argument(
        "--batch-size", type=int, metavar="N", help="samples generated together (default 4)"
    )
    p.add_argument(
        "--limit", type=int, metavar="N", help="run only the first N samples (benchmark order)"
    )
    p.add_argument("--device", help="torch device (default cpu; cuda: one GPU per process)")
    p.add_argument("--dtype", help="auto, float32, bfloat16 or float16 (default auto)")
    p.add_argument("--attn", help="attention implementation (sdpa, eager, flash_attention_2)")
    p.add_argument(
        "--max-new-tokens", type=int, metavar="N", help="sampled tokens per sample (default 1024)"
    )
    p.add_argument("--temperature", type=_number, metavar="T", help="0 = greedy (default)")
    p.add_argument("--top-p", type=_number, metavar="P")
    p.add_argument("--top-k", type=int, metavar="K")
    p.add_argument("--seed", type=int, metavar="N", help="sampling seed (default 0)")
    p.add_argument(
        "--overview-fps", type=_number, metavar="FPS", help="overview density (default 0.5)"
    )
    p.add_argument(
        "--overview-max-frames", type=int, metavar="N", help="overview frame cap (default 64)"
    )
    p.add_argument("--max-frames", type=int, metavar="N", help="frames per retrieval (default 128)")
    p.add_argument("--max-rounds", type=int, metavar="N", help="retrievals per answer (default 3)")
    p.add_argument(
        "--max-fps", type=_number, metavar="FPS", help="retrieval density ceiling (default 30)"
    )
    p.add_argument(
        "--max-visual-tokens",
        type=int,
        metavar="N",
        help="visual tokens per answer (default 32768)",
    )
    p.add_argument(
        "--fixed-fps",
        type=_number,
        metavar="FPS",
        help="serve every retrieval at this density whatever the model asks (ablation)",
    )
    p.add_argument("--system", help="system prompt (default: the chat template's)")
    p.add_argument("--continuation", choices=["cache", "rerun"], help="after a retrieval")
    p.add_argument(
        "--retry-failed",
        action="store_true",
        default=None,
        help="rerun samples whose record is a failure",
    )
    p.add_argument(
        "--plots", type=int, metavar="N", help="timeline plots in the report (default 12)"
    )
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "train",
        help="train: sft (DynFrame cold start, VideoMind roles) or grpo (SD-GRPO) from a recipe",
        description="Train from a YAML recipe in configs/ (one process, or several under "
        "torchrun / accelerate launch). Checkpoints, metrics.jsonl and the resolved config go to "
        "the recipe's output_dir.",
    )
    p.add_argument(
        "trainer", choices=["sft", "grpo"], help="sft: recipes sft/grounder/verifier/planner"
    )
    p.add_argument("--config", metavar="PATH", help="YAML recipe (configs/*.yaml)")
    p.add_argument(
        "--set",
        action="extend",
        nargs="+",
        metavar="KEY=VALUE",
        help="override config keys, e.g. optim.lr=1e-5 model.path=ckpt/Qwen3-VL-4B",
    )
    p.add_argument(
        "--resume",
        metavar="DIR",
        help="continue from a checkpoint folder, or an output folder's latest checkpoint",
    )
    p.add_argument(
        "--stop-after",
        type=int,
        metavar="STEP",
        help="save and stop after this step (the schedule spans the whole run; --resume later)",
    )
    p.set_defaults(func=cmd_train)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("framescope: interrupted", file=sys.stderr)
        return 130
    except (FramescopeError, OSError) as e:
        if args.debug:
            raise
        print(f"framescope: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as e:  # a bug: say so in one line, keep the traceback behind --debug
        if args.debug:
            raise
        print(
            f"framescope: internal error: {type(e).__name__}: {e} (rerun with --debug for the traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())

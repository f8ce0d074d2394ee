"""Evaluation commands: ``score`` predictions with a benchmark's official rules, ``eval`` a
method over a whole benchmark (settings flags generated from
:class:`~framescope.eval.config.EvalConfig`)."""

from __future__ import annotations

import argparse

from framescope import config as cfgs
from framescope.cli.infer import add_settings, quiet_transformers, with_model_defaults


def cmd_score(args: argparse.Namespace) -> int:
    from framescope.eval.score import format_table, score, write_result

    result = score(
        args.benchmark,
        args.annotations,
        args.predictions,
        compat=args.compat,
        conf_thr=args.conf_thr,
        normalised_time=args.normalised_time,
        subset=args.subset,
    )
    print(format_table(result))
    if args.output:
        write_result(args.output, result, args.annotations, args.predictions)
        print(f"\nmetrics: {args.output}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from framescope.eval.config import eval_config, load_eval_config
    from framescope.eval.runner import evaluate
    from framescope.eval.score import format_table

    given = cfgs.given_arguments(args, args.setting_keys)
    if args.benchmark is not None:
        given["benchmark"] = args.benchmark
    if not args.config:
        given = with_model_defaults(given)
    config = load_eval_config(args.config, given) if args.config else eval_config(given)
    quiet_transformers()
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


def add(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    from framescope.eval.benchmarks import BENCHMARKS
    from framescope.eval.config import COMPAT, COMPAT_HELP, EvalConfig

    p = sub.add_parser(
        "score",
        parents=[common],
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
    p.add_argument("--compat", choices=COMPAT, help=COMPAT_HELP)
    p.add_argument(
        "--subset",
        action="store_true",
        help="score only the samples the framescope prediction files hold (an eval --limit run), "
        "labelled as a subset",
    )
    p.add_argument(
        "--conf-thr",
        type=float,
        default=-1.0,
        metavar="T",
        help="VideoMind's --conf_thr: CG-Bench with --compat videomind keeps the windows whose "
        "confidence is > T besides the first (default: the first only)",
    )
    p.add_argument(
        "--normalised-time",
        action="store_true",
        help="NExT-GQA: the grounding file holds fractions of the video (eval_ground.py's gs "
        "mode: × duration, rounded to 0.1 s)",
    )
    p.set_defaults(func=cmd_score)

    p = sub.add_parser(
        "eval",
        parents=[common],
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
        "benchmark",
        nargs="?",
        choices=list(BENCHMARKS),
        metavar="BENCHMARK",
        help=", ".join(BENCHMARKS) + " (or from --config)",
    )
    p.add_argument("--config", metavar="YAML", help="settings file (an eval's config.yaml)")
    run = p.add_argument_group("run")
    keys = cfgs.add_arguments(run, EvalConfig, skip=("benchmark",), sections=False)
    p.set_defaults(func=cmd_eval, setting_keys=keys + add_settings(p))

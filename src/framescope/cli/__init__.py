"""The ``framescope`` command.

Each module of this package adds its subcommands (``add(subparsers)``) and holds their
``cmd_*`` functions, which take the parsed arguments. Settings flags of ``infer``, ``eval`` and
``serve`` are generated from the config dataclasses (:func:`framescope.config.add_arguments`),
so every setting is declared once. Library errors (:class:`FramescopeError`, and OS errors such
as a missing output folder) become one line on stderr and exit code 1; ``--debug`` (anywhere on
the command line) shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from framescope.errors import FramescopeError

EXIT_ERROR = 1
EXIT_INTERNAL = 3


def _debug_flag(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--debug", action="store_true", default=default, help="show tracebacks, not one-line errors"
    )


def build_parser() -> argparse.ArgumentParser:
    from framescope.cli import evaluate, infer, train, video

    parser = argparse.ArgumentParser(
        prog="framescope",
        description="Temporally grounded video reasoning with multimodal LLMs (VideoMind, DynFrame).",
    )
    _debug_flag(parser, False)
    common = argparse.ArgumentParser(add_help=False)  # --debug after the subcommand too
    _debug_flag(common, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (video, infer, evaluate, train):
        module.add(sub, common)
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

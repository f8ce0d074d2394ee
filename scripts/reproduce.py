"""The miniature reproduction of DynFrame and VideoMind on the synthetic world (docs/reproduction.md).

Every run is a public command — ``framescope train sft|grpo`` with a recipe in
``configs/repro/`` and ``framescope eval`` — launched as a subprocess with one thread, at most
``--jobs`` at a time, each logging to ``ROOT/logs/<step>.log``. A finished step is never rerun
(training: its last checkpoint exists; evaluation: its ``metrics.json``); an interrupted one
resumes (training with ``--resume``, evaluation by the runner's own resume), so the whole table
can be built over several sessions by rerunning the same command. ``--report`` (also run at the
end) writes ``docs/reproduction.md`` and its plots from whatever has finished.

    python scripts/reproduce.py --root /work/repro_runs                 # everything, seeds 0-2
    python scripts/reproduce.py --root R --only claim1 --seeds 0         # one claim, one seed
    python scripts/reproduce.py --root R --dry-run                       # the commands, in order
    python scripts/reproduce.py --root R --report                        # tables + plots only
    python scripts/reproduce.py --root R --ship                          # copy the default model

Steps (``--only`` takes any of the group names): ``warm`` (the two warm starts), ``claim1``
(own vs fixed density), ``claim2`` (SD-GRPO vs trajectory GRPO), ``claim3`` (verifier
re-ranking, Chain-of-LoRA vs one shared adapter), ``claim4`` (retrieval vs overview only).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs" / "repro"
DOC = REPO / "docs" / "reproduction.md"
PLOTS = REPO / "docs" / "reproduction"
DEFAULT_MODEL = REPO / "src" / "framescope" / "default_model"
sys.path.insert(0, str(REPO / "scripts"))

# the worlds: training (seed 1000) and held-out evaluation (seed 2000); demo videos use 10^7+
TRAIN_WORLD = dict(seed=1000, num_videos=300, duration=(16, 24))
TEST_WORLD = dict(seed=2000, num_videos=125, duration=(16, 24))
DF_WARM_STEPS, VM_WARM_STEPS = 800, 1200
# DynFrame inference as trained: overview 1 fps (<= 32 frames), one retrieval, 384 tokens
DF_EVAL = ["--overview-fps", "1", "--overview-max-frames", "32", "--max-new-tokens", "384"]
VM_EVAL = ["--max-new-tokens", "48"]  # the grounder's reply; the answerer is not scored here
VERIFIER_QUERIES = 800  # training-world queries whose top-5 become verifier rows


@dataclass
class Step:
    """One command (or an in-process action) with the file that says it is done."""

    name: str
    group: str
    done: Path
    command: list[str] | None = None
    action: Callable[[], None] | None = None
    after: list[str] = field(default_factory=list)
    resume: Path | None = None  # a training output folder: add --resume when it has a checkpoint


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "framescope.cli", *args]


class Plan:
    """Every step of the reproduction for ``seeds``, rooted at ``root``."""

    def __init__(self, root: Path, seeds: list[int]) -> None:
        self.root, self.seeds = root, seeds
        self.train, self.test = root / "worlds" / "train", root / "worlds" / "test"
        self.runs, self.evals = root / "runs", root / "evals"
        self.steps: dict[str, Step] = {}
        self._build()

    def add(self, step: Step) -> None:
        self.steps[step.name] = step

    # -------------------------------------------------------------- helpers

    def train_step(
        self,
        name: str,
        group: str,
        trainer: str,
        config: str,
        steps: int,
        sets: list[str],
        after: list[str],
    ) -> str:
        out = self.runs / name
        self.add(
            Step(
                name,
                group,
                out / f"checkpoint-{steps}" / "config.yaml",
                cli(
                    "train",
                    trainer,
                    "--config",
                    str(CONFIGS / config),
                    "--set",
                    f"data.root={self.train}",
                    f"output_dir={out}",
                    *sets,
                ),
                after=after,
                resume=out,
            )
        )
        return name

    def eval_step(
        self,
        name: str,
        group: str,
        bench: str,
        model: Path,
        method: str,
        extra: list[str],
        after: list[str],
        world: Path | None = None,
    ) -> str:
        world = world or self.test
        out = self.evals / name
        self.add(
            Step(
                name,
                group,
                out / "metrics.json",
                cli(
                    "eval",
                    bench,
                    "--data-root",
                    str(world / bench),
                    "--video-dir",
                    str(world / "videos"),
                    "--model",
                    str(model),
                    "--method",
                    method,
                    "--out",
                    str(out),
                    "--batch-size",
                    "8",
                    *extra,
                ),
                after=after,
            )
        )
        return name

    def ckpt(self, run: str, steps: int, export: str) -> Path:
        return self.runs / run / f"checkpoint-{steps}" / export

    # -------------------------------------------------------------- the plan

    def _build(self) -> None:
        from reproduce_parts import fixed_fps, make_world, verifier_data

        self.add(
            Step(
                "world_train",
                "warm",
                self.train / "world.json",
                action=lambda: make_world(self.train, **TRAIN_WORLD),
            )
        )
        self.add(
            Step(
                "world_test",
                "warm",
                self.test / "world.json",
                action=lambda: make_world(self.test, **TEST_WORLD),
            )
        )
        df_warm = self.train_step(
            "dynframe_warm", "warm", "sft", "dynframe_warm.yaml", DF_WARM_STEPS, [], ["world_train"]
        )
        vm_warm = self.train_step(
            "videomind_warm",
            "warm",
            "sft",
            "videomind_warm.yaml",
            VM_WARM_STEPS,
            [],
            ["world_train"],
        )
        df_base = self.ckpt(df_warm, DF_WARM_STEPS, "model")
        vm_base = self.ckpt(vm_warm, VM_WARM_STEPS, "model")
        vm_head = self.ckpt(vm_warm, VM_WARM_STEPS, "head") / "pytorch_model.safetensors"
        self.fixed_fps = fixed_fps(self.train) if (self.train / "world.json").is_file() else 0.0
        for k in self.seeds:
            seed = [f"seed={k}"]
            # claim 1 / 4: own density vs fixed density, retrieval vs overview only
            own = self.train_step(
                f"df_own_s{k}",
                "claim1",
                "sft",
                "dynframe_arm.yaml",
                200,
                [f"model.path={df_base}", *seed],
                [df_warm, "world_test"],
            )
            fixed = self.train_step(
                f"df_fixed_s{k}",
                "claim1",
                "sft",
                "dynframe_arm.yaml",
                200,
                [f"model.path={df_base}", f"video.retrieval_fps={self.fixed_fps:g}", *seed],
                [df_warm, "world_test"],
            )
            for bench in ("charades_sta", "videomme"):
                self.eval_step(
                    f"df_own_s{k}_{bench}",
                    "claim1",
                    bench,
                    self.ckpt(own, 200, "model"),
                    "dynframe",
                    DF_EVAL,
                    [own],
                )
                self.eval_step(
                    f"df_fixed_s{k}_{bench}",
                    "claim1",
                    bench,
                    self.ckpt(fixed, 200, "model"),
                    "dynframe",
                    [*DF_EVAL, "--fixed-fps", f"{self.fixed_fps:g}"],
                    [fixed],
                )
                self.eval_step(
                    f"df_overview_s{k}_{bench}",
                    "claim4",
                    bench,
                    self.ckpt(own, 200, "model"),
                    "dynframe",
                    [*DF_EVAL, "--max-rounds", "0"],
                    [own],
                )
            # claim 2: SD-GRPO vs trajectory GRPO from the same SFT checkpoint (seed 0's)
            sft = self.ckpt("df_own_s0", 200, "model")
            for adv in ("segment", "trajectory"):
                run = self.train_step(
                    f"grpo_{adv}_s{k}",
                    "claim2",
                    "grpo",
                    f"dynframe_grpo_{adv}.yaml",
                    30,
                    [f"model.path={sft}", *seed],
                    ["df_own_s0"],
                )
                for bench in ("charades_sta", "videomme"):
                    self.eval_step(
                        f"grpo_{adv}_s{k}_{bench}",
                        "claim2",
                        bench,
                        self.ckpt(run, 30, "model"),
                        "dynframe",
                        DF_EVAL,
                        [run],
                    )
            # claim 3: grounder top-1 vs verifier re-ranking; Chain-of-LoRA vs one shared adapter
            base = [f"model.path={vm_base}", f"grounder.init={vm_head}", *seed]
            grounder = self.train_step(
                f"vm_grounder_s{k}",
                "claim3",
                "sft",
                "videomind_grounder.yaml",
                150,
                base,
                [vm_warm],
            )
            g_export = self.ckpt(grounder, 150, "videomind")
            self.eval_step(
                f"vm_top1_s{k}",
                "claim3",
                "charades_sta",
                g_export,
                "videomind",
                VM_EVAL,
                [grounder, "world_test"],
            )
            self.eval_step(
                f"vm_trainpred_s{k}",
                "claim3",
                "charades_sta",
                g_export,
                "videomind",
                [*VM_EVAL, "--limit", str(VERIFIER_QUERIES)],
                [grounder],
                world=self.train,
            )
            rows = self.runs / f"verifier_rows_s{k}.jsonl"
            preds = self.evals / f"vm_trainpred_s{k}" / "predictions.jsonl"
            self.add(
                Step(
                    f"verifier_rows_s{k}",
                    "claim3",
                    rows,
                    action=lambda rows=rows, preds=preds: verifier_data(self.train, preds, rows),
                    after=[f"vm_trainpred_s{k}"],
                )
            )
            verifier = self.train_step(
                f"vm_verifier_s{k}",
                "claim3",
                "sft",
                "videomind_verifier.yaml",
                150,
                [f"model.path={vm_base}", f"data.files=[{rows}]", *seed],
                [vm_warm, f"verifier_rows_s{k}"],
            )
            col = self.runs / f"vm_col_s{k}"
            v_export = self.ckpt(verifier, 150, "videomind")
            self.add(
                Step(
                    f"vm_assemble_s{k}",
                    "claim3",
                    col / "verifier" / "adapter_config.json",
                    action=lambda col=col, g=g_export, v=v_export: assemble(col, g, v),
                    after=[grounder, verifier],
                )
            )
            self.eval_step(
                f"vm_col_s{k}",
                "claim3",
                "charades_sta",
                col,
                "videomind",
                VM_EVAL,
                [f"vm_assemble_s{k}"],
            )
            shared = self.train_step(
                f"vm_shared_run_s{k}",
                "claim3",
                "sft",
                "videomind_shared.yaml",
                300,
                [*base, f"data.verifier_files=[{rows}]"],
                [vm_warm, f"verifier_rows_s{k}"],
            )
            self.eval_step(
                f"vm_shared_s{k}",
                "claim3",
                "charades_sta",
                self.ckpt(shared, 300, "videomind"),
                "videomind",
                VM_EVAL,
                [shared],
            )


def assemble(out: Path, grounder_export: Path, verifier_export: Path) -> None:
    """A VideoMind folder with both roles: the grounder run's export plus the verifier run's
    ``verifier/`` adapter (how docs/training.md assembles an agent from role runs)."""
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(grounder_export, tmp)
    shutil.copytree(verifier_export / "verifier", tmp / "verifier")
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)


# ---------------------------------------------------------------------------- running


def command_for(step: Step) -> list[str] | None:
    if step.command is None:
        return None
    cmd = list(step.command)
    if step.resume is not None and any(step.resume.glob("checkpoint-*/config.yaml")):
        cmd += ["--resume", str(step.resume)]
    return cmd


def run_plan(plan: Plan, names: list[str], jobs: int, dry_run: bool) -> None:
    """Run the steps ``names`` (and nothing else), dependencies first, ``jobs`` at a time."""
    todo = [n for n in names if not plan.steps[n].done.exists()]
    if dry_run:
        for n in todo:
            step = plan.steps[n]
            cmd = command_for(step)
            print(f"[{n}] " + (" ".join(cmd) if cmd else f"(in-process) -> {step.done}"))
        return
    logs = plan.root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    running: dict[str, tuple[subprocess.Popen[bytes], float]] = {}
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONPATH": str(REPO / "src"),
    }
    failed: set[str] = set()
    while todo or running:
        for n, (proc, t0) in list(running.items()):
            if proc.poll() is not None:
                del running[n]
                ok = proc.returncode == 0 and plan.steps[n].done.exists()
                print(f"{'done' if ok else 'FAILED'}: {n} ({time.time() - t0:.0f} s)", flush=True)
                if not ok:
                    failed.add(n)
        blocked = {n for n in todo if any(a in failed for a in plan.steps[n].after)}
        failed |= blocked
        todo = [n for n in todo if n not in blocked]
        ready = [
            n
            for n in todo
            if all(plan.steps[a].done.exists() for a in plan.steps[n].after if a in plan.steps)
        ]
        for n in ready:
            step = plan.steps[n]
            if step.action is not None:
                print(f"run: {n} (in-process)", flush=True)
                step.action()
                todo.remove(n)
                continue
            if len(running) >= jobs:
                break
            cmd = command_for(step)
            assert cmd is not None
            print(f"start: {n}: {' '.join(cmd)}", flush=True)
            with open(logs / f"{n}.log", "ab") as log:
                running[n] = (
                    subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO),
                    time.time(),
                )
            todo.remove(n)
        if not ready and not running and todo:
            missing = {a for n in todo for a in plan.steps[n].after if a not in names}
            print(f"waiting on steps outside this selection: {sorted(missing)}", flush=True)
            return
        time.sleep(5)
    if failed:
        print(f"failed or blocked: {sorted(failed)}", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", type=Path, required=True, help="worlds, runs, evals, logs go here")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--only", nargs="+", help="groups or step names (default: everything)")
    p.add_argument("--jobs", type=int, default=2, help="single-thread jobs at a time (default 2)")
    p.add_argument("--dry-run", action="store_true", help="print the commands left to run")
    p.add_argument("--report", action="store_true", help="only write docs/reproduction.md")
    p.add_argument("--ship", action="store_true", help="copy the default model into the package")
    p.add_argument("--ship-dynframe", default="df_own_s0", help="the DynFrame run to ship")
    p.add_argument(
        "--ship-videomind",
        nargs=2,
        default=["vm_col_s0", "vm_col_s0"],
        metavar=("EVAL", "FOLDER"),
        help="the VideoMind evaluation whose model ships, and its folder under ROOT/runs",
    )
    args = p.parse_args(argv)
    plan = Plan(args.root.resolve(), args.seeds)
    if args.ship:
        from reproduce_parts import ship

        ship(plan, DEFAULT_MODEL, args.ship_dynframe, *args.ship_videomind)
        return 0
    if not args.report:
        wanted = args.only or ["warm", "claim1", "claim2", "claim3", "claim4"]
        names = [n for n, s in plan.steps.items() if s.group in wanted or n in wanted]
        # dependencies of a selected step run too
        closure: list[str] = []

        def visit(n: str) -> None:
            if n in closure or n not in plan.steps:
                return
            for a in plan.steps[n].after:
                visit(a)
            closure.append(n)

        for n in names:
            visit(n)
        run_plan(plan, closure, args.jobs, args.dry_run)
        if args.dry_run:
            return 0
    from reproduce_parts import write_report

    machine = f"{platform.node()}: {os.cpu_count()} CPUs, {platform.platform()}"
    write_report(plan, DOC, PLOTS, machine)
    print(f"report: {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

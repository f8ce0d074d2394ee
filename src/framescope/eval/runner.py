"""``framescope eval``: run a method over a benchmark — resumable, sharded — then score and report.

Per process: load the benchmark's official files (:mod:`framescope.eval.benchmarks`; bad or
missing files fail here, before a model is loaded) → its samples in annotation order (``limit``:
the first N) → drop the samples any record file in the output folder already has (resume) →
this rank's batches → ``method.run`` per batch → one record per sample appended to
``predictions.rank{r}.jsonl``, flushed and fsynced when the batch ends → barrier → rank 0 merges
every record file into ``predictions.jsonl`` (benchmark order), scores it with the benchmark's
official rules, writes ``metrics.json`` and the report (:mod:`framescope.eval.report`).

Decisions:

- **Sharding by batch.** The samples are cut into batches of ``batch_size`` in benchmark order;
  rank ``r`` of ``W`` runs batches ``r, r + W, …``. Every batch is the one a single process
  would run, so generations are identical whatever the world size (left padding, hence the
  numbers, depend on the batch's make-up), and ranks differ by at most one batch.
- **Resume by id.** A sample with a record in *any* record file (the merge, any rank's file,
  whatever world size wrote it) is done; failure records count as done unless ``retry_failed``.
  A rank only appends ids of its own batches, so the ranks never race on a record. Merging
  keeps one record per id: one that ran beats a failure, else the first read (a retried failure:
  the last). A run with different model or inference settings in the same folder is refused
  (``config.yaml`` is compared), so records never mix settings.
- **Failures never stop the run.** A video that is not a file gets a failure record up front
  (nothing decoded); a trace with an error (unreadable/corrupt video, prompt too long …) becomes
  a failure record with that reason; when ``method.run`` raises, the batch is retried one sample
  at a time so that only the culprit gets a failure record. A ``ModelError`` or ``ConfigError``
  from the method is not a sample's failure but a setup one (say, a checkpoint the method cannot
  use): it stops the run like bad input.
- **Synchronisation:** ``torch.distributed`` (gloo, also on GPU machines — only a barrier is
  exchanged, never tensors) under torchrun/accelerate (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``);
  results travel through the files, so the output folder must be shared by all ranks. With
  ``device="cuda"`` each rank takes ``cuda:<LOCAL_RANK>``.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from tqdm import tqdm

from framescope.errors import ConfigError, EvalError, MissingFileError, ModelError
from framescope.eval import records as rec
from framescope.eval.benchmarks import Benchmark, Result, get_benchmark
from framescope.eval.benchmarks.base import require_compat
from framescope.eval.benchmarks.layout import EvalItem
from framescope.eval.score import COMPAT
from framescope.fileio import atomic_write_text, write_json
from framescope.methods import InferConfig, Method, get_method
from framescope.models.backend import Backend
from framescope.models.engine import CONTINUATIONS, Sampling
from framescope.retrieval.grammar import Budgets
from framescope.train.config import build_config, option
from framescope.video.cache import FrameCache

# a rank that finished waits for the slowest at the final barrier: shards of a long benchmark
# can end hours apart (torchrun tears the group down if a rank dies)
BARRIER_TIMEOUT = timedelta(hours=48)
CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.json"


@dataclass
class EvalConfig:
    """Everything one evaluation run is made of; saved as ``config.yaml`` in the output folder
    (``framescope eval --config`` reads it back)."""

    benchmark: str = option("", "benchmark name (framescope score --help lists them)")
    data_root: str = option("", "folder holding the benchmark's files as its release ships them")
    model: str = option("", "local checkpoint folder; nothing is downloaded")
    method: str = option("dynframe", "inference method: direct, dynframe or any registered one")
    out: str | None = option(None, "output folder (default: eval_<benchmark>_<method>)")
    video_dir: str | None = option(None, "video folder, instead of the layout's under data_root")
    compat: str | None = option(None, "score as a re-implementation does", COMPAT)
    batch_size: int = option(4, "samples generated together (and records flushed together)")
    limit: int | None = option(None, "run only the first N samples, in benchmark order")
    device: str = option("cpu", "torch device (cuda: each rank takes cuda:<LOCAL_RANK>)")
    dtype: str = option("auto", "auto, float32, bfloat16 or float16")
    attn: str | None = option(None, "attention implementation (sdpa, eager, flash_attention_2)")
    max_new_tokens: int = option(InferConfig.max_new_tokens, "sampled tokens per sample")
    temperature: float = option(Sampling.temperature, "sampling temperature (0 = greedy)")
    top_p: float = option(Sampling.top_p, "nucleus mass kept")
    top_k: int = option(Sampling.top_k, "tokens kept (0 = all)")
    seed: int = option(InferConfig.seed, "sampling seed (with the sample id)")
    overview_fps: float = option(InferConfig.overview_fps, "density of the whole-video overview")
    overview_max_frames: int = option(InferConfig.overview_max_frames, "overview frame cap")
    max_frames: int = option(Budgets.max_frames, "frames per retrieval")
    max_rounds: int = option(Budgets.max_rounds, "retrievals per answer")
    max_fps: float = option(Budgets.max_fps, "retrieval density ceiling")
    max_visual_tokens: int = option(Budgets.max_visual_tokens, "visual tokens per answer")
    fixed_fps: float | None = option(
        None, "serve every retrieval at this density whatever the model asks (fixed-density arm)"
    )
    system: str | None = option(None, "system prompt (default: the chat template's)")
    continuation: str = option(InferConfig.continuation, "after a retrieval", CONTINUATIONS)
    retry_failed: bool = option(False, "rerun samples whose record is a failure")
    plots: int = option(12, "timeline plots in the report")

    def __post_init__(self) -> None:
        for name in ("benchmark", "data_root", "model"):
            if not getattr(self, name):
                raise ConfigError(f"{name} is required")
        if self.batch_size < 1 or (self.limit is not None and self.limit < 1) or self.plots < 0:
            raise ConfigError("batch_size and limit must be >= 1, plots >= 0")

    def infer_config(self) -> InferConfig:
        """The method's settings (one decoded-frame cache shared by every batch of the run)."""
        return InferConfig(
            max_new_tokens=self.max_new_tokens,
            sampling=Sampling(self.temperature, self.top_p, self.top_k),
            seed=self.seed,
            budgets=Budgets(
                self.max_frames,
                self.max_rounds,
                self.max_fps,
                self.max_visual_tokens,
                self.fixed_fps,
            ),
            overview_fps=self.overview_fps,
            overview_max_frames=self.overview_max_frames,
            system=self.system,
            batch_size=self.batch_size,
            continuation=self.continuation,
            frame_cache=FrameCache(),
        )

    @property
    def out_dir(self) -> Path:
        return Path(self.out or f"eval_{self.benchmark}_{self.method}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# settings a resumed run must share with the records already written
IDENTITY = (
    "benchmark",
    "model",
    "method",
    "dtype",
    "max_new_tokens",
    "temperature",
    "top_p",
    "top_k",
    "seed",
    "overview_fps",
    "overview_max_frames",
    "max_frames",
    "max_rounds",
    "max_fps",
    "max_visual_tokens",
    "fixed_fps",
    "system",
    "continuation",
)


def load_eval_config(path: str | os.PathLike[str], **given: Any) -> EvalConfig:
    """An :class:`EvalConfig` from a YAML mapping (keys = the field names) with ``given`` values
    (not ``None``) on top; unknown keys and wrong types fail with a one-line ConfigError."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such config file") from None
    except yaml.MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else "?"
        raise ConfigError(f"{p}:{line}: invalid YAML: {e.problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: a config must be a mapping")
    try:
        return eval_config({**data, **{k: v for k, v in given.items() if v is not None}})
    except ConfigError as e:
        raise ConfigError(f"{p}: {e}") from None


def eval_config(data: dict[str, Any]) -> EvalConfig:
    """An :class:`EvalConfig` from plain data, types checked."""
    config: EvalConfig = build_config(EvalConfig, data)
    return config


@dataclass
class EvalSummary:
    """What one call did. ``ran``: samples this process ran now; ``resumed``: samples of its
    share already recorded; ``failures``: failure records by kind (rank 0: in the merged
    predictions; other ranks: their own); ``result``: the scores (rank 0 only)."""

    out_dir: Path
    benchmark: str
    method: str
    samples: int
    ran: int
    resumed: int
    failures: dict[str, int]
    rank: int
    world_size: int
    seconds: float
    result: Result | None = None


# ---------------------------------------------------------------------------- samples


def load_items(
    bench: Benchmark, data_root: Path, video_dir: Path | None
) -> tuple[Any, list[EvalItem]]:
    """The benchmark's annotations and its samples from the files under ``data_root``."""
    if not data_root.is_dir():
        raise MissingFileError(
            f"{bench.name}: data root {data_root} is not a folder (expected {bench.layout.tree})"
        )
    data = bench.load([data_root / rel if rel else data_root for rel in bench.layout.annotations])
    items = bench.items(data, data_root, video_dir)
    seen: set[str] = set()
    for it in items:
        if it.id in seen:
            raise EvalError(f"{bench.name}: sample id {it.id} appears twice in the annotations")
        seen.add(it.id)
    if not items:
        raise EvalError(f"{bench.name}: no samples to run under {data_root}")
    return data, items


def shard(
    items: Sequence[EvalItem], batch_size: int, rank: int, world: int
) -> list[list[EvalItem]]:
    """Rank ``rank``'s batches: batch ``k`` is ``items[k*B:(k+1)*B]``, rank r takes k ≡ r mod W."""
    batches = [list(items[k : k + batch_size]) for k in range(0, len(items), batch_size)]
    return batches[rank::world]


def run_batch(
    bench: Benchmark,
    method: Method,
    backend: Backend,
    items: Sequence[EvalItem],
    config: InferConfig,
) -> list[rec.Record]:
    """One record per item, in order; nothing a sample does stops the others."""
    missing = {
        it.id: rec.failure_record(
            it.id, method.name, rec.MISSING_VIDEO, f"video not found: {it.video}"
        )
        for it in items
        if not Path(it.video).is_file()
    }
    runnable = [it for it in items if it.id not in missing]
    done = dict(
        zip((it.id for it in runnable), _generate(bench, method, backend, runnable, config))
    )
    return [missing.get(it.id) or done[it.id] for it in items]


def _generate(
    bench: Benchmark,
    method: Method,
    backend: Backend,
    items: Sequence[EvalItem],
    config: InferConfig,
) -> list[rec.Record]:
    if not items:
        return []
    t0 = time.perf_counter()
    try:
        traces = method.run(backend, [it.sample() for it in items], config)
        if [t.id for t in traces] != [it.id for it in items]:
            raise EvalError(f"method {method.name} returned traces that do not match its samples")
    except (ConfigError, ModelError):  # the model or settings cannot run the method: bad input
        raise
    except Exception as e:  # any generation error: retry alone, then record it (the run goes on)
        if len(items) > 1:
            return [r for it in items for r in _generate(bench, method, backend, [it], config)]
        reason = f"{type(e).__name__}: {e}".strip()
        seconds = time.perf_counter() - t0
        return [rec.failure_record(items[0].id, method.name, rec.GENERATION_ERROR, reason, seconds)]
    return [rec.prediction_record(bench.prediction(t, it), t) for t, it in zip(traces, items)]


def run_shard(
    bench: Benchmark,
    method: Method,
    backend: Backend,
    batches: Sequence[Sequence[EvalItem]],
    config: EvalConfig,
    path: Path,
    bar: tqdm,
) -> Counter[str]:
    """Run the batches, appending each batch's records to ``path`` (on disk before the next
    batch starts); the failure kinds seen."""
    infer = config.infer_config()
    failures: Counter[str] = Counter()
    with rec.record_writer(path) as write:
        for batch in batches:
            if batch:
                records = run_batch(bench, method, backend, batch, infer)
                write(records)
                failures.update(k for r in records if (k := rec.failure_kind(r)))
                bar.update(len(batch))
    return failures


# ---------------------------------------------------------------------------- processes


def _dist_env() -> tuple[int, int, int]:
    """(rank, world size, local rank) as torchrun / accelerate set them (1 process otherwise)."""
    env = os.environ
    return int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0))


@contextmanager
def _process_group(world: int) -> Iterator[None]:
    """A gloo group for the barrier when several processes run (kept if one exists already)."""
    if world == 1:
        yield
        return
    import torch.distributed as dist

    if dist.is_initialized():
        yield
        return
    dist.init_process_group("gloo", timeout=BARRIER_TIMEOUT)
    try:
        yield
    finally:
        dist.destroy_process_group()


def _barrier(world: int) -> None:
    if world > 1:
        import torch.distributed as dist

        dist.barrier()


def _device(device: str, world: int, local_rank: int) -> str:
    return f"cuda:{local_rank}" if device == "cuda" and world > 1 else device


def _check_resume(out: Path, config: EvalConfig) -> None:
    """Refuse to add records to a folder whose records were made with other settings."""
    path = out / CONFIG_FILE
    if not path.is_file():
        return
    try:
        old = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise EvalError(f"{path}: not a readable config ({e})") from None
    new = config.to_dict()
    for key in IDENTITY:
        if key in old and old[key] != new[key]:
            raise EvalError(
                f"{out} holds a run with {key}={old[key]!r}, this run has {key}={new[key]!r}: "
                "use another output folder (or the same settings) so records never mix"
            )


def _save_config(out: Path, config: EvalConfig) -> None:
    header = "# framescope eval: the resolved run settings (framescope eval --config reads them)\n"
    body = yaml.safe_dump(config.to_dict(), sort_keys=False, allow_unicode=True)
    atomic_write_text(out / CONFIG_FILE, header + body)


def resolved(config: EvalConfig) -> EvalConfig:
    """``config`` with its paths absolute (the saved config and the resume check use these)."""
    video_dir = str(Path(config.video_dir).resolve()) if config.video_dir else None
    return dataclasses.replace(
        config,
        data_root=str(Path(config.data_root).resolve()),
        model=str(Path(config.model).resolve()),
        video_dir=video_dir,
        out=str(config.out_dir.resolve()),
    )


# ---------------------------------------------------------------------------- run


def evaluate(
    config: EvalConfig, backend: Backend | None = None, progress: bool = False
) -> EvalSummary:
    """Run ``config`` (see the module docstring); ``backend``: an already-loaded model to use
    instead of loading ``config.model``. Returns on every rank; rank 0's summary has the scores."""
    t0 = time.perf_counter()
    rank, world, local_rank = _dist_env()
    config = resolved(config)
    bench = get_benchmark(config.benchmark)
    require_compat(bench, config.compat)
    method = get_method(config.method)
    root = Path(config.data_root)
    data, items = load_items(bench, root, Path(config.video_dir) if config.video_dir else None)
    items = items[: config.limit] if config.limit else items
    out = config.out_dir
    out.mkdir(parents=True, exist_ok=True)
    _check_resume(out, config)
    if rank == 0:
        _save_config(out, config)
    done = rec.recorded_ids(rec.record_files(out), config.retry_failed)
    mine = shard(items, config.batch_size, rank, world)
    todo = [[it for it in batch if it.id not in done] for batch in mine]
    total = sum(len(b) for b in mine)
    pending = sum(len(b) for b in todo)
    failures: Counter[str] = Counter()
    with _process_group(world):
        if pending:
            if backend is None:
                from framescope.models.hf import load_backend

                device = _device(config.device, world, local_rank)
                backend = load_backend(config.model, config.dtype, device, config.attn)
            bar = tqdm(
                total=total,
                initial=total - pending,
                desc=bench.name if world == 1 else f"{bench.name} [rank {rank}/{world}]",
                unit="sample",
                disable=not progress,
                dynamic_ncols=True,
            )
            with bar:
                failures = run_shard(
                    bench, method, backend, todo, config, rec.rank_file(out, rank), bar
                )
        _barrier(world)
        result = None
        if rank == 0:
            result, failures = finish(out, bench, data, items, config)
    return EvalSummary(
        out_dir=out,
        benchmark=bench.name,
        method=method.name,
        samples=len(items),
        ran=pending,
        resumed=total - pending,
        failures=dict(failures),
        rank=rank,
        world_size=world,
        seconds=time.perf_counter() - t0,
        result=result,
    )


def finish(
    out: Path, bench: Benchmark, data: Any, items: Sequence[EvalItem], config: EvalConfig
) -> tuple[Result, Counter[str]]:
    """Rank 0, after every rank is done: merge the records (benchmark order), score, write
    ``metrics.json`` and the report."""
    from framescope.eval.report import write_report

    ids = [it.id for it in items]
    best = rec.merge(rec.record_files(out), ids)
    lost = [i for i in ids if i not in best]
    if lost:
        shown = ", ".join(lost[:5]) + (" …" if len(lost) > 5 else "")
        raise EvalError(f"{len(lost)} samples have no record after every rank finished ({shown})")
    merged = [best[i] for i in ids]
    path = rec.write_merged(out, merged)
    subset = bench.subset(data, set(ids))
    result = bench.score(subset, bench.read_predictions([path], subset), config.compat)
    failures = Counter(k for r in merged if (k := rec.failure_kind(r)))
    payload = result.to_dict()
    payload["samples"] = len(ids)
    payload["failures"] = dict(sorted(failures.items()))
    payload["predictions"] = str(path)
    write_json(out / METRICS_FILE, payload)
    write_report(out, result, merged, items, config.to_dict(), config.plots)
    return result, failures


def run_eval(
    benchmark: str,
    data_root: str | os.PathLike[str],
    model: str | os.PathLike[str],
    method: str = "dynframe",
    config: InferConfig | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    batch_size: int = 4,
    limit: int | None = None,
    *,
    video_dir: str | os.PathLike[str] | None = None,
    compat: str | None = None,
    device: str = "cpu",
    dtype: str = "auto",
    attn: str | None = None,
    retry_failed: bool = False,
    plots: int = 12,
    backend: Backend | None = None,
    progress: bool = False,
) -> EvalSummary:
    """Run ``method`` on ``benchmark`` (files under ``data_root``) with the checkpoint ``model``
    (or the loaded ``backend``) and the inference settings ``config``; records, metrics and the
    report go to ``out_dir``. See :func:`evaluate`."""
    infer = config or InferConfig()
    settings = EvalConfig(
        benchmark=benchmark,
        data_root=str(data_root),
        model=str(model),
        method=method,
        out=str(out_dir) if out_dir is not None else None,
        video_dir=str(video_dir) if video_dir is not None else None,
        compat=compat,
        batch_size=batch_size,
        limit=limit,
        device=device,
        dtype=dtype,
        attn=attn,
        max_new_tokens=infer.max_new_tokens,
        temperature=infer.sampling.temperature,
        top_p=infer.sampling.top_p,
        top_k=infer.sampling.top_k,
        seed=infer.seed,
        overview_fps=infer.overview_fps,
        overview_max_frames=infer.overview_max_frames,
        max_frames=infer.budgets.max_frames,
        max_rounds=infer.budgets.max_rounds,
        max_fps=infer.budgets.max_fps,
        max_visual_tokens=infer.budgets.max_visual_tokens,
        fixed_fps=infer.budgets.fixed_fps,
        system=infer.system,
        continuation=infer.continuation,
        retry_failed=retry_failed,
        plots=plots,
    )
    return evaluate(settings, backend, progress)

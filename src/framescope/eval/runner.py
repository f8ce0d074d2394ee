"""``framescope eval``: run a method over a benchmark — resumable, sharded — then score and report.

Per process: load the benchmark's official files (:mod:`framescope.eval.benchmarks`; bad or
missing files fail here, before a model is loaded) → its samples in annotation order (``limit``:
N of them spread evenly, so that every task is run; scored and labelled as a subset) → drop the samples any record file in the output folder already has (resume) →
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

from tqdm import tqdm

from framescope import config as cfgs
from framescope.errors import ConfigError, EvalError, MissingFileError, ModelError
from framescope.eval import records as rec
from framescope.eval.benchmarks import Benchmark, Result, get_benchmark
from framescope.eval.benchmarks.base import Scoring, require_compat
from framescope.eval.benchmarks.layout import EvalItem
from framescope.eval.config import CONFIG_FILE, EvalConfig
from framescope.fileio import write_json
from framescope.methods import Method, make_method
from framescope.models.backend import Backend
from framescope.models.default import resolve_model
from framescope.settings import AgentConfig, BackendConfig, InferConfig
from framescope.video.cache import FrameCache

# a rank that finished waits for the slowest at the final barrier: shards of a long benchmark
# can end hours apart (torchrun tears the group down if a rank dies)
BARRIER_TIMEOUT = timedelta(hours=48)
METRICS_FILE = "metrics.json"


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
    items = bench.items(data, bench.videos(data_root, video_dir))
    seen: set[str] = set()
    for it in items:
        if it.id in seen:
            raise EvalError(f"{bench.name}: sample id {it.id} appears twice in the annotations")
        seen.add(it.id)
    if not items:
        raise EvalError(f"{bench.name}: no samples to run under {data_root}")
    return data, items


def spread(items: Sequence[EvalItem], limit: int | None) -> list[EvalItem]:
    """``limit`` samples spread evenly over ``items`` in benchmark order (every k-th), so that a
    quick run of a multi-task benchmark covers every task; all of them without a limit."""
    if limit is None or limit >= len(items):
        return list(items)
    return [items[k * len(items) // limit] for k in range(limit)]


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
            it.id, method.name, rec.MISSING_VIDEO, f"video not found: {it.sample.video}"
        )
        for it in items
        if not Path(it.sample.video).is_file()
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
        traces = method.run(backend, [it.sample for it in items], config)
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
    infer = dataclasses.replace(config.infer, frame_cache=FrameCache())  # shared by the batches
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
        old = cfgs.flatten(cfgs.read_yaml(path))
    except ConfigError as e:
        raise EvalError(f"{path}: not a readable config ({e})") from None
    for key, value in config.identity().items():
        if key in old and old[key] != value:
            raise EvalError(
                f"{out} holds a run with {key}={old[key]!r}, this run has {key}={value!r}: "
                "use another output folder (or the same settings) so records never mix"
            )


# ---------------------------------------------------------------------------- run


def evaluate(
    config: EvalConfig, backend: Backend | None = None, progress: bool = False
) -> EvalSummary:
    """Run ``config`` (see the module docstring); ``backend``: an already-loaded model to use
    instead of loading ``config.model``. Returns on every rank; rank 0's summary has the scores."""
    t0 = time.perf_counter()
    rank, world, local_rank = _dist_env()
    config = config.resolved()
    size = config.infer.batch_for(backend.device if backend is not None else config.backend.device)
    config = dataclasses.replace(config, infer=dataclasses.replace(config.infer, batch_size=size))
    bench = get_benchmark(config.benchmark)
    require_compat(bench, config.compat)
    method = make_method(config.method, config.agent)
    root = Path(config.data_root)
    data, items = load_items(bench, root, Path(config.video_dir) if config.video_dir else None)
    available = len(items)
    items = spread(items, config.limit)
    out = config.out_dir
    out.mkdir(parents=True, exist_ok=True)
    _check_resume(out, config)
    if rank == 0:
        config.save(out)
    done = rec.recorded_ids(rec.record_files(out), config.retry_failed)
    mine = shard(items, size, rank, world)
    todo = [[it for it in batch if it.id not in done] for batch in mine]
    total = sum(len(b) for b in mine)
    pending = sum(len(b) for b in todo)
    failures: Counter[str] = Counter()
    with _process_group(world):
        if pending:
            if backend is None:
                from framescope.models.hf import load_backend

                b = config.backend
                device = _device(b.device, world, local_rank)
                model = resolve_model(b.model, config.method)
                backend = load_backend(
                    model, b.dtype, device, b.attn, base_model=b.base_model, roles=b.roles
                )
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
            result, failures = finish(out, bench, data, items, config, available)
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
    out: Path,
    bench: Benchmark,
    data: Any,
    items: Sequence[EvalItem],
    config: EvalConfig,
    total: int,
) -> tuple[Result, Counter[str]]:
    """Rank 0, after every rank is done: merge the records (benchmark order), score, write
    ``metrics.json`` and the report; a run of fewer than the benchmark's ``total`` samples is
    labelled as a subset."""
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
    how = Scoring(config.compat, config.conf_thr)
    result = bench.score(subset, bench.read_predictions([path], subset), how)
    failures = Counter(k for r in merged if (k := rec.failure_kind(r)))
    if len(ids) < total:
        result.notes.append(f"a subset: {len(ids)} of the benchmark's {total} samples (--limit)")
    payload = result.to_dict()
    payload["samples"] = len(ids)
    payload["subset"] = len(ids) < total
    payload["failures"] = dict(sorted(failures.items()))
    payload["predictions"] = str(path)
    write_json(out / METRICS_FILE, payload)
    write_report(out, result, merged, items, cfgs.flatten(config.to_dict()), config.plots)
    return result, failures


def run_eval(
    benchmark: str,
    data_root: str | os.PathLike[str],
    model: str | os.PathLike[str],
    method: str = "dynframe",
    config: InferConfig | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    batch_size: int | None = None,
    limit: int | None = None,
    *,
    agent: AgentConfig | None = None,
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
    (or the loaded ``backend``), the inference settings ``config`` (``batch_size`` replaces its
    batch size) and VideoMind's ``agent`` settings; records, metrics and the report go to
    ``out_dir``. See :func:`evaluate`."""
    infer = config or InferConfig()
    if batch_size is not None:
        infer = dataclasses.replace(infer, batch_size=batch_size)
    settings = EvalConfig(
        benchmark=benchmark,
        data_root=str(data_root),
        method=method,
        out=str(out_dir) if out_dir is not None else None,
        video_dir=str(video_dir) if video_dir is not None else None,
        compat=compat,
        limit=limit,
        retry_failed=retry_failed,
        plots=plots,
        backend=BackendConfig(model=str(model), dtype=dtype, device=device, attn=attn),
        infer=infer,
        agent=agent or AgentConfig(),
    )
    return evaluate(settings, backend, progress)

"""VideoMind agent: batched verification vs one candidate at a time; role switching vs model copies.

**Verification.** A random-weight Qwen2-VL of ``framescope.models.tiny`` (``--preset``, default
``small``: text hidden 512, 8 layers, vision depth 4) with random LoRA roles (grounder, verifier,
planner; r 64, LoRA B non-zero) and a timestamp head is saved in VideoMind's layout and loaded
through ``load_backend``, the path a real checkpoint takes. Five candidates on the 20 s synthetic
demo video are turned into the Verifier's prompts exactly as the agent does (pad to 2 s, widen
50 % a side, fps 2 ≤ 64 frames, 36–64 × 28² pixels per frame, ``<|seg_start|>``/``<|seg_end|>``
inside the visual run). Timed: scoring them with the verifier adapter in **one** right-padded
forward pass (framescope, ``score_candidates``) vs **one forward per candidate** (the release's
loop, same prompts, same code otherwise). Prompt building (decoding, processor) is the same for
both and not timed. Scores are asserted equal (1e-4). Times: the best of ``--repeats``
interleaved runs after a warm-up.

**Role switching.** ``Roles.use(role)`` (framescope: sets two flags per cached adapter module,
enter + exit) vs the release's switch (``disable_adapter_layers``, ``enable_adapter_layers``,
``set_adapter``, i.e. peft walking the model) on the ``--preset`` model and on a model with
Qwen2-VL-2B's module count (28 layers, 112 LoRA targets; tiny widths, since switching cost
depends on the number of modules, not their size); and separate model copies (one per role,
switching = picking another object). Memory: parameter bytes of one base + adapters (LoRA r 64
on q/k/v/o, plus the grounder's and verifier's own embed_tokens/lm_head copies) vs four full
copies (planner, grounder, verifier, answerer), counted on the ``--preset`` model and on the real
Qwen2-VL-2B shapes (built on the meta device: no weights allocated) in bf16.

Usage: python benchmarks/bench_agent.py [--preset small] [--repeats 3] [--switches 2000]
       [--threads N] [--device cpu] [--dtype float32]
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from framescope.agent.common import role_budget, role_prompt
from framescope.agent.verifier import mark_candidate, score_candidates, verifier_prompt, zoom
from framescope.models.adapters import ROLES, SAVES_EMBEDDINGS, LoraSpec, Roles, attention_modules
from framescope.models.backend import Segment
from framescope.models.hf import load_backend
from framescope.models.timestamp_head import TimestampHead
from framescope.models.tiny import (
    build_model,
    build_processor,
    model_class,
    model_config,
    perturb_adapters,
    save_tiny_model,
)
from framescope.models.videomind_ckpt import TokenIds, save_videomind
from framescope.synth import demo_video
from framescope.types import Window
from framescope.video.cache import FrameCache
from framescope.video.probe import probe
from framescope.video.sampling import sample

CANDIDATES = (Window(6.5, 9.1), Window(2, 5), Window(0, 4), Window(11, 17), Window(8, 20))


def videomind_checkpoint(root: Path, preset: str) -> Path:
    """A random-weight VideoMind checkpoint of ``preset`` shapes (framescope's layout)."""
    base = save_tiny_model("qwen2_vl", root / "base", preset=preset)
    processor = build_processor("qwen2_vl", preset)
    tok = processor.tokenizer
    roles = Roles.create(build_model("qwen2_vl", preset), ROLES)
    perturb_adapters(roles.model, torch.Generator().manual_seed(0), 0.02, 0.02)
    head = TimestampHead(roles.model.config.get_text_config().hidden_size)
    ids = TokenIds(
        *(tok.convert_tokens_to_ids(t) for t in ("<|reg|>", "<|seg_start|>", "<|seg_end|>"))
    )
    return save_videomind(root / "ckpt", roles, head, str(base), ids, processor=processor)


def verifier_prompts(backend: Any, video: Path, cache: FrameCache) -> list[Segment]:
    """The Verifier's marked prompts for CANDIDATES, built as the agent builds them."""
    info, ids = probe(video), backend.videomind.checkpoint.token_ids
    prompts = []
    for cand in CANDIDATES:
        z = zoom(cand, info.duration)
        clip = sample(
            info, z.window, fps=2.0, max_frames=64, budget=role_budget(backend, 36, 64), cache=cache
        )
        prompt, block = role_prompt(backend, verifier_prompt("the square moves"), clip)
        prompts.append(mark_candidate(backend, prompt, block, z, (ids.seg_start, ids.seg_end)))
    return prompts


def bench_verify(backend: Any, video: Path, repeats: int, preset: str) -> None:
    prompts = verifier_prompts(backend, video, FrameCache())
    yes_no = (backend.encode_text("Yes")[0], backend.encode_text("No")[0])

    def batched() -> list[float]:
        return score_candidates(backend, prompts, yes_no)

    def one_at_a_time() -> list[float]:
        return [score_candidates(backend, [p], yes_no)[0] for p in prompts]

    runs: dict[str, list[float]] = {"batched": [], "one": []}
    cpu: dict[str, list[float]] = {"batched": [], "one": []}
    scores = {"batched": batched(), "one": one_at_a_time()}  # warm-up
    for _ in range(repeats):
        for name, fn in (("batched", batched), ("one", one_at_a_time)):
            t, c = time.perf_counter(), time.process_time()
            scores[name] = fn()
            if backend.device.type == "cuda":
                torch.cuda.synchronize()
            runs[name].append(time.perf_counter() - t)
            cpu[name].append(time.process_time() - c)  # all threads: less hit by other jobs
    diff = max(abs(a - b) for a, b in zip(scores["batched"], scores["one"]))
    if backend.dtype == torch.float32:  # bf16 rounds padded and unpadded rows differently
        assert diff < 1e-4, f"batched and one-at-a-time scores differ by {diff}"
    lengths = [len(p) for p in prompts]
    padded = len(prompts) * max(lengths)  # padding: every row as long as the longest
    b, o = min(runs["batched"]), min(runs["one"])
    cb, co = min(cpu["batched"]), min(cpu["one"])
    print(
        "\n| preset | candidates | prompt tokens (min–max) | tokens fed batched / one at a time "
        "| batched | one at a time | speed-up | CPU s batched / one | CPU speed-up | max Δscore |"
    )
    print("|" + "---|" * 10)
    print(
        f"| {preset} | {len(prompts)} | {min(lengths)}–{max(lengths)} | {padded} / {sum(lengths)} "
        f"| {b:.3f} s | {o:.3f} s | {o / b:.2f}× | {cb:.2f} / {co:.2f} | {co / cb:.2f}× "
        f"| {diff:.1e} |",
        flush=True,
    )


def release_switch(model: Any, role: str | None) -> None:
    """VideoMind's switch before every role (its workaround for peft's embedding copies)."""
    model.base_model.disable_adapter_layers()
    if role is not None:
        model.base_model.enable_adapter_layers()
        model.set_adapter(role)


def time_use(roles: Roles, order: list[str | None], switches: int) -> float:
    """Microseconds per ``Roles.use`` (enter + exit), cycling through ``order``."""
    t = time.perf_counter()
    for k in range(switches):
        with roles.use(order[k % len(order)]):
            pass
    return (time.perf_counter() - t) / switches * 1e6


def bench_switch(name: str, model: Any, switches: int) -> tuple[float, float, float, float]:
    """Microseconds per switch: Roles.use on frozen roles (inference) and on trainable ones
    (training flags follow the role too), the release's dance, copies."""
    order = [*ROLES, None]
    trainable = time_use(Roles.create(copy.deepcopy(model), ROLES, trainable=True), order, switches)
    roles = Roles.create(model, ROLES, trainable=False)
    ours = time_use(roles, order, switches)
    t = time.perf_counter()
    for k in range(switches // 10):  # slower: fewer rounds
        release_switch(roles.model, order[k % 4])
    theirs = (time.perf_counter() - t) / (switches // 10) * 1e6
    copies = {r: object() for r in order}  # N full models: switching picks another one
    t = time.perf_counter()
    for k in range(switches):
        copies[order[k % 4]]
    pick = (time.perf_counter() - t) / switches * 1e6
    return ours, trainable, theirs, pick


def param_bytes(model: Any, bytes_per_param: int) -> tuple[int, int]:
    """(base bytes, adapter bytes of the three roles) counted from module shapes."""
    base = sum(p.numel() for p in model.parameters()) * bytes_per_param
    spec = LoraSpec()
    lora = 0
    for name in attention_modules(model):
        m = model.get_submodule(name)
        lora += spec.r * (m.in_features + m.out_features)
    emb = model.get_input_embeddings().weight.numel() + model.get_output_embeddings().weight.numel()
    adapters = sum(lora + (emb if SAVES_EMBEDDINGS[r] else 0) for r in ROLES)
    return base, adapters * bytes_per_param


def qwen2_vl_2b() -> Any:
    """Qwen2-VL-2B's shapes on the meta device (no memory)."""
    from transformers import Qwen2VLConfig

    cfg = Qwen2VLConfig(
        text_config=dict(
            vocab_size=151936,
            hidden_size=1536,
            intermediate_size=8960,
            num_hidden_layers=28,
            num_attention_heads=12,
            num_key_value_heads=2,
            rope_parameters=dict(rope_type="default", rope_theta=1e6, mrope_section=[16, 24, 24]),
        ),
        vision_config=dict(depth=32, embed_dim=1280, num_heads=16, mlp_ratio=4, hidden_size=1536),
        tie_word_embeddings=True,
    )
    with torch.device("meta"):
        return model_class("qwen2_vl")(cfg)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="small")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--switches", type=int, default=2000)
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    root = Path(tempfile.mkdtemp(prefix="bench_agent_"))
    video = demo_video(root / "demo.mp4")[0]
    print(
        f"{args.device}, {args.dtype}, torch threads {torch.get_num_threads()}, "
        f"best of {args.repeats}"
    )
    ckpt = videomind_checkpoint(root, args.preset)
    backend = load_backend(ckpt, dtype=args.dtype, device=args.device)
    bench_verify(backend, video, args.repeats, args.preset)

    print(
        "\n| model | LoRA modules | Roles.use (enter + exit) | Roles.use, trainable "
        "| release switch | copies (pick) |"
    )
    print("|" + "---|" * 6)
    wide = build_model("qwen2_vl", args.preset)
    deep_cfg = model_config("qwen2_vl", "tiny")
    deep_cfg.text_config.num_hidden_layers = 28  # Qwen2-VL-2B's module count, tiny widths
    deep_cfg.text_config.layer_types = ["full_attention"] * 28
    deep = model_class("qwen2_vl")(deep_cfg)
    for name, model in ((args.preset, wide), ("2B module count", deep)):
        n = len(attention_modules(model))
        assert name != "2B module count" or n == 112  # 28 layers x q/k/v/o
        ours, trainable, theirs, pick = bench_switch(name, model, args.switches)
        print(
            f"| {name} | {n} | {ours:.1f} µs | {trainable:.1f} µs | {theirs:.0f} µs "
            f"| {pick:.2f} µs |",
            flush=True,
        )

    print("\n| model | dtype | base | + 3 role adapters | 4 separate copies | copies / adapters |")
    print("|" + "---|" * 6)
    for name, model, size, dtype in (
        (args.preset, build_model("qwen2_vl", args.preset), 4, "float32"),
        ("Qwen2-VL-2B shapes", qwen2_vl_2b(), 2, "bfloat16"),
    ):
        base, adapters = param_bytes(model, size)
        ours, copies = base + adapters, 4 * base
        gib = 2**30
        print(
            f"| {name} | {dtype} | {base / gib:.2f} GiB | {ours / gib:.2f} GiB "
            f"| {copies / gib:.2f} GiB | {copies / ours:.2f}× |",
            flush=True,
        )


if __name__ == "__main__":
    main()

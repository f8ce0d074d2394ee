"""Inference settings, each declared once: which checkpoint and device (:class:`BackendConfig`),
how tokens are sampled (:class:`Sampling`), what retrieval may fetch (:class:`Budgets`), the
run itself (:class:`InferConfig`) and VideoMind's roles (:class:`AgentConfig`).

``framescope infer``, ``eval`` and ``serve`` generate their flags from these fields
(:func:`framescope.config.add_arguments`), the evaluation config nests them, the GRPO recipe's
retrieval section *is* :class:`Budgets`, and every trace reports them. Defaults follow the
papers' released settings (DynFrame: 128 frames per retrieval, 3 rounds, densities up to 30 fps;
VideoMind: fps 1 / 150 frames for the grounder, fps 2 / 64 frames for the verifier, top 5
verified, the answer clip at least 32 s at fps 2 / 32 frames). Torch-free, so that building the
command line stays fast.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass
from typing import Any

from framescope.config import option, require, runtime, section
from framescope.types import AgentBudgets, RetrievalBudgets

# ---------------------------------------------------------------------------- VideoMind's routes

GROUNDER, VERIFIER, ANSWERER, PLANNER = "grounder", "verifier", "answerer", "planner"
FULL_ROUTE = (GROUNDER, VERIFIER, ANSWERER)
ROUTES = (FULL_ROUTE, (GROUNDER, VERIFIER), (ANSWERER,))
VERIFIER_SCORES = ("logit", "prob")
VERIFIER_TOP_K = 5  # candidates verified (and, in training, labelled per query): the release
CONTINUATIONS = ("cache", "rerun")


def check_route(route: Any) -> tuple[str, ...]:
    """``route`` as a tuple if it is one of the valid routes; :class:`ConfigError` otherwise."""
    route = tuple(route)
    valid = "; ".join(" → ".join(r) for r in ROUTES)
    require(route in ROUTES, f"route {' → '.join(route) or '(empty)'} is not valid; valid: {valid}")
    return route


# ---------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class BackendConfig:
    """Which local checkpoint to load and where (nothing is downloaded)."""

    model: str = option("default", "local checkpoint folder, or 'default': the shipped model")
    dtype: str = option("auto", "weights dtype", ("auto", "float32", "bfloat16", "float16"))
    device: str = option("cpu", "torch device (cuda: each rank of a sharded run takes its own)")
    attn: str | None = option(
        None, "attention implementation (sdpa, eager, flash_attention_2; none: transformers')"
    )
    base_model: str | None = option(
        None, "VideoMind: the base Qwen2-VL folder (none: the one the checkpoint's config names)"
    )
    roles: tuple[str, ...] | None = option(
        None,
        "VideoMind: load only these role adapters (none: every one in the checkpoint)",
        (PLANNER, GROUNDER, VERIFIER),
    )


@dataclass(frozen=True)
class Sampling:
    """How the next token is chosen."""

    temperature: float = option(0.0, "sampling temperature (0: greedy)")
    top_p: float = option(1.0, "nucleus mass kept (1: all)")
    top_k: int = option(0, "tokens kept (0: all)")
    repetition_penalty: float = option(
        1.0, "transformers' repetition penalty over the row's tokens so far (1: off)"
    )

    def __post_init__(self) -> None:
        require(
            self.temperature >= 0
            and 0 < self.top_p <= 1
            and self.top_k >= 0
            and self.repetition_penalty > 0,
            f"bad sampling settings: temperature {self.temperature} (>= 0), top_p "
            f"{self.top_p} (0-1], top_k {self.top_k} (>= 0), repetition_penalty "
            f"{self.repetition_penalty} (> 0)",
        )


@dataclass(frozen=True)
class Budgets:
    """Limits on what retrieval may fetch in one episode (reported in every trace)."""

    max_frames: int = option(128, "frames per retrieval; more are capped (DynFrame rollouts: 128)")
    max_rounds: int = option(3, "fetched retrievals per episode")
    max_fps: float = option(30.0, "density ceiling of a request (the release: integers 1-30)")
    max_visual_tokens: int = option(32768, "visual tokens per episode, the overview included")
    fixed_fps: float | None = option(
        None,
        "serve every accepted request at this density whatever the model wrote (the "
        "fixed-density ablation: the model picks the window, the runtime the density)",
    )

    def __post_init__(self) -> None:
        require(
            self.max_frames >= 2
            and self.max_rounds >= 0
            and self.max_fps > 0
            and self.max_visual_tokens >= 0
            and (self.fixed_fps is None or 0 < self.fixed_fps <= self.max_fps),
            f"bad retrieval budgets {self}: need max_frames >= 2, max_rounds >= 0, "
            "max_fps > 0, max_visual_tokens >= 0, 0 < fixed_fps <= max_fps",
        )

    def report(self) -> RetrievalBudgets:
        """The budgets as ``Trace.budgets`` reports them."""
        return RetrievalBudgets(**asdict(self))


@dataclass(frozen=True)
class InferConfig:
    """Settings of one inference run (saved in every trace through ``budgets``)."""

    max_new_tokens: int = option(1024, "sampled tokens per sample (injected ones do not count)")
    sampling: Sampling = section(Sampling, "token sampling (greedy by default)")
    seed: int = option(0, "sampling seed (with the sample id, seeds each sample's sampler)")
    budgets: Budgets = section(Budgets, "what retrieval may fetch")
    overview_fps: float = option(0.5, "density of the whole-video overview in the prompt")
    overview_max_frames: int = option(64, "cap on the overview's frames")
    system: str | None = option(None, "system prompt (none: the chat template's default)")
    batch_size: int | None = option(
        None, "samples generated together (none: 1 on a CPU, 8 on a GPU)"
    )
    continuation: str = option(
        "cache",
        "after a retrieval: continue from the KV cache, or re-run (the release)",
        CONTINUATIONS,
    )
    frame_cache: Any = runtime()  # a shared framescope.video.cache.FrameCache of decoded frames

    def __post_init__(self) -> None:
        problems = [
            f"{name} {value} must be {rule}"
            for name, value, ok, rule in (
                ("max_new_tokens", self.max_new_tokens, self.max_new_tokens >= 1, ">= 1"),
                ("overview_fps", self.overview_fps, self.overview_fps > 0, "> 0"),
                (
                    "overview_max_frames",
                    self.overview_max_frames,
                    self.overview_max_frames >= 2,
                    ">= 2",
                ),
                (
                    "batch_size",
                    self.batch_size,
                    self.batch_size is None or self.batch_size >= 1,
                    ">= 1",
                ),
                (
                    "continuation",
                    self.continuation,
                    self.continuation in CONTINUATIONS,
                    f"one of {CONTINUATIONS}",
                ),
            )
            if not ok
        ]
        require(not problems, "; ".join(problems))

    def batch_for(self, device: Any) -> int:
        """The batch size on ``device``: ``batch_size``, else 1 on a CPU and 8 elsewhere. On a
        CPU one sample already keeps the cores busy, and a batch's rows are fed together: a clip
        spliced into one row pads every other row to its length (benchmarks/bench_eval.py)."""
        if self.batch_size is not None:
            return self.batch_size
        return 1 if str(device).split(":")[0] == "cpu" else 8

    def sample_seed(self, sample_id: str) -> int:
        """The seed of one sample's sampler: ``seed`` and the sample's id, so a sample draws the
        same tokens whatever batch it is in."""
        return self.seed * 1_000_003 + zlib.crc32(sample_id.encode())


@dataclass(frozen=True)
class AgentConfig:
    """VideoMind's settings (defaults: the release's), saved in every trace through ``budgets``."""

    planner: bool = option(False, "run the planner first (the released evaluation never does)")
    route: tuple[str, ...] = option(
        FULL_ROUTE,
        "route without a planner (and after an invalid plan): grounder verifier answerer, "
        "grounder verifier, or answerer",
        (GROUNDER, VERIFIER, ANSWERER),
    )
    verifier_score: str = option(
        "logit",
        "sigmoid(logit_yes - logit_no), or the release's sigmoid(p_yes - p_no) quirk",
        VERIFIER_SCORES,
    )
    verifier_top_k: int = option(VERIFIER_TOP_K, "grounder candidates the verifier re-ranks")
    force_reg: bool = option(
        False, "force the grounder's reply 'The relevant moment happens in <|reg|>.'"
    )
    answer_min_len: float = option(32.0, "seconds the answer clip is widened to")
    answer_min_ratio: float | None = option(
        None, "or this fraction of the video, when larger (some benchmarks)"
    )
    planner_fps: float = option(1.0, "planner's sampling density")
    planner_max_frames: int = option(100, "planner's frame cap")
    grounder_fps: float = option(1.0, "grounder's sampling density")
    grounder_max_frames: int = option(150, "grounder's frame cap")
    verifier_fps: float = option(2.0, "density of each verifier zoom-in")
    verifier_max_frames: int = option(64, "frame cap of each verifier zoom-in")
    role_tokens: tuple[int, int] = option(
        (36, 64), "merged visual tokens per frame, min max: planner, grounder, verifier"
    )
    answer_fps: float = option(2.0, "answerer's sampling density")
    answer_max_frames: int = option(32, "answerer's frame cap")
    answer_tokens: tuple[int, int] = option(
        (128, 256), "merged visual tokens per frame, min max: answerer"
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "route", check_route(self.route))
        require(
            self.verifier_score in VERIFIER_SCORES,
            f"verifier_score must be one of {VERIFIER_SCORES}, got {self.verifier_score!r}",
        )
        rates = (self.planner_fps, self.grounder_fps, self.verifier_fps, self.answer_fps)
        frames = (
            self.planner_max_frames,
            self.grounder_max_frames,
            self.verifier_max_frames,
            self.answer_max_frames,
        )
        tokens = (*self.role_tokens, *self.answer_tokens)
        ratio = self.answer_min_ratio
        require(
            min(rates) > 0
            and min(frames) >= 2
            and min(tokens) >= 1
            and self.role_tokens[0] <= self.role_tokens[1]
            and self.answer_tokens[0] <= self.answer_tokens[1]
            and self.answer_min_len >= 0
            and self.verifier_top_k >= 1
            and (ratio is None or 0 < ratio <= 1),
            "agent settings: fps > 0, max frames >= 2, token bounds 1 <= min <= max, "
            "answer_min_len >= 0, verifier_top_k >= 1, answer_min_ratio in (0, 1]",
        )

    def report(self) -> AgentBudgets:
        """The numeric settings as ``Trace.budgets`` reports them."""
        return AgentBudgets(
            planner=self.planner,
            planner_fps=self.planner_fps,
            planner_max_frames=self.planner_max_frames,
            grounder_fps=self.grounder_fps,
            grounder_max_frames=self.grounder_max_frames,
            verifier_top_k=self.verifier_top_k,
            verifier_fps=self.verifier_fps,
            verifier_max_frames=self.verifier_max_frames,
            role_min_tokens=self.role_tokens[0],
            role_max_tokens=self.role_tokens[1],
            answer_min_len=self.answer_min_len,
            answer_fps=self.answer_fps,
            answer_max_frames=self.answer_max_frames,
            answer_min_tokens=self.answer_tokens[0],
            answer_max_tokens=self.answer_tokens[1],
        )

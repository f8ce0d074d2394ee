"""Inference methods behind one interface: ``run(backend, samples, config) -> list[Trace]``.

- ``direct``: a uniform overview of the video (``InferConfig.overview_fps``, capped at
  ``overview_max_frames``, the backend's pixel budget) and the question; one generation.
- ``dynframe``: the same prompt, then DynFrame's span-density retrieval loop
  (:mod:`framescope.retrieval.loop`).

Both run batched and return one :class:`~framescope.types.Trace` per sample, in order.

- ``videomind``: VideoMind's role agent (:mod:`framescope.agent`), the same protocol; needs a
  VideoMind checkpoint (``agent_qwen2_vl``). ``VideoMindAgent(AgentConfig(...))`` for settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from framescope.agent.agent import VideoMindAgent
from framescope.errors import ConfigError
from framescope.models.backend import Backend
from framescope.retrieval.loop import run_loop
from framescope.settings import AgentConfig, InferConfig
from framescope.types import Sample, Trace

__all__ = [
    "METHODS",
    "AgentConfig",
    "Direct",
    "DynFrame",
    "InferConfig",
    "Method",
    "Sample",
    "VideoMindAgent",
    "get_method",
    "make_method",
]


class Method(Protocol):
    """An inference method: answers a batch of samples and records how."""

    name: str

    def run(
        self, backend: Backend, samples: Sequence[Sample], config: InferConfig
    ) -> list[Trace]: ...


class Direct:
    """Uniform overview + question, one generation (no retrieval)."""

    name = "direct"

    def run(self, backend: Backend, samples: Sequence[Sample], config: InferConfig) -> list[Trace]:
        return run_loop(backend, samples, config, retrieval=False, method=self.name)


class DynFrame:
    """Uniform overview + question, then span-density retrieval while the model reasons."""

    name = "dynframe"

    def run(self, backend: Backend, samples: Sequence[Sample], config: InferConfig) -> list[Trace]:
        return run_loop(backend, samples, config, retrieval=True, method=self.name)


METHODS: dict[str, Method] = {m.name: m for m in (Direct(), DynFrame(), VideoMindAgent())}


def get_method(name: str) -> Method:
    """The registered method called ``name``."""
    if name not in METHODS:
        raise ConfigError(f"unknown method {name!r}; expected one of {', '.join(METHODS)}")
    return METHODS[name]


def make_method(name: str, agent: AgentConfig | None = None) -> Method:
    """The method called ``name``; ``videomind`` with the ``agent`` settings when given."""
    if name == VideoMindAgent.name and agent is not None:
        return VideoMindAgent(agent)
    return get_method(name)

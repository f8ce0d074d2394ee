"""The Qwen-VL model families framescope runs, and what differs between them — in one place.

=============  ==================================  =====  ===========================================
family         transformers class                  patch  time
=============  ==================================  =====  ===========================================
qwen2_vl       ``Qwen2VLForConditionalGeneration``  14    positions only (2 frames per temporal id)
qwen2_5_vl     ``Qwen2_5_VLForConditionalGeneration`` 14  ``second_per_grid_ts`` scales temporal ids
qwen3_vl       ``Qwen3VLForConditionalGeneration``  16    ``<t seconds>`` text before every patch
=============  ==================================  =====  ===========================================

Every family merges 2×2 patches into one visual token and 2 frames into one temporal patch, so a
frame side is a multiple of ``patch × merge`` pixels (28 or 32), and Qwen's per-frame pixel
bounds are token counts times that factor squared (128–768 merged tokens by default). The rope
rule: Qwen2-VL and Qwen2.5-VL number a clip's tokens on a 3-D grid and continue the text after
the block's largest id (the reference rule, :mod:`framescope.models.rope`); Qwen3-VL writes each
temporal patch as its own block behind a text timestamp. Torch-free: the video layer and the
command line read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from framescope.errors import ConfigError


@dataclass(frozen=True)
class Family:
    """One model family (see the module docstring)."""

    name: str
    model_class: str  # the transformers class that loads its checkpoints
    processor_class: str
    patch: int  # vision patch side in pixels
    text_timestamps: bool  # Qwen3-VL: "<t seconds>" before every temporal patch
    grid_seconds: bool  # Qwen2.5-VL: temporal ids scaled by second_per_grid_ts
    merge: int = 2  # patches per side merged into one visual token
    temporal_patch: int = 2  # frames per temporal patch
    min_tokens: int = 128  # Qwen's default per-frame pixel floor, in merged tokens
    max_tokens: int = 768  # … and ceiling

    @property
    def factor(self) -> int:
        """Frame sides are multiples of this many pixels."""
        return self.patch * self.merge

    def transformers_class(self) -> Any:
        """The transformers model class (imported on demand: transformers pulls in torch)."""
        import transformers

        return getattr(transformers, self.model_class)


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("qwen2_vl", "Qwen2VLForConditionalGeneration", "Qwen2VLProcessor", 14, False, False),
        Family(
            "qwen2_5_vl",
            "Qwen2_5_VLForConditionalGeneration",
            "Qwen2_5_VLProcessor",
            14,
            False,
            True,
        ),
        Family("qwen3_vl", "Qwen3VLForConditionalGeneration", "Qwen3VLProcessor", 16, True, False),
    )
}
NAMES = tuple(FAMILIES)


def family(name: str) -> Family:
    """The family called ``name``; :class:`ConfigError` naming the known ones otherwise."""
    if name not in FAMILIES:
        raise ConfigError(f"unknown model family {name!r}; expected one of {', '.join(NAMES)}")
    return FAMILIES[name]

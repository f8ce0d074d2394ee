"""framescope: temporally grounded video reasoning with multimodal LLMs (VideoMind, DynFrame)."""

__version__ = "0.1.0"

"""Evaluation: metrics (``metrics``), answer parsing (``answers``), benchmarks and scoring."""

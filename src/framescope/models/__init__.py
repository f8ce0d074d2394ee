"""Model side: Qwen-VL families through transformers, offline tiny checkpoints, 3-D rope positions."""

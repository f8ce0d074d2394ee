"""DynFrame's four tokens on a stock base (tiny checkpoints built *without* them): added as the
release adds them (new vocabulary entries; embeddings resized and noisy-mean initialised only when
the vocabulary outgrows the rows), saved with the SFT checkpoint, and required by ``--method
dynframe``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from framescope.cli import main
from framescope.models.hf import load_backend
from framescope.models.tiny import save_tiny_model
from framescope.retrieval.loop import REQUEST_TOKENS
from framescope.train.model import add_request_tokens
from framescope.train.sft import train_sft

from .conftest import recipe


@pytest.fixture(scope="module")
def stock(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("stock_bases")
    return {
        family: save_tiny_model(family, root / family, dynframe_tokens=False)
        for family in ("qwen3_vl", "qwen2_5_vl")
    }


def test_padded_vocabulary_takes_them_without_resizing(stock: dict[str, Path]) -> None:
    """The tiny vocabulary is padded like Qwen's (285 tokens, 320 rows): the new tokens take
    unused rows as they are, nothing is resized (the release only resizes when it must)."""
    backend = load_backend(stock["qwen3_vl"])
    assert all(len(backend.encode_text(t)) > 1 for t in REQUEST_TOKENS)  # BPE pieces, cached
    before = backend.model.get_input_embeddings().weight.detach().clone()
    assert add_request_tokens(backend, torch.Generator().manual_seed(0)) == list(REQUEST_TOKENS)
    ids = [backend.encode_text(t) for t in REQUEST_TOKENS]  # the cache was dropped
    assert ids == [[285], [286], [287], [288]]
    text = "<think><span>1 - 2</span><fps>2</fps></think>"
    assert backend.decode(backend.encode_text(text)) == text  # not special: stays in the text
    assert torch.equal(backend.model.get_input_embeddings().weight, before)
    assert add_request_tokens(backend, torch.Generator().manual_seed(0)) == []


def test_resized_rows_are_the_noisy_mean(stock: dict[str, Path]) -> None:
    """A vocabulary with no spare rows (285 rows, untied Qwen2.5-VL): resized to a multiple of
    64 (320); every new row of the embeddings and of the LM head — padding rows included — is
    that matrix's mean of the old rows plus N(0, 1/H) noise; old rows untouched."""
    backend = load_backend(stock["qwen2_5_vl"])
    model = backend.model
    model.resize_token_embeddings(len(backend.tokenizer))
    old = [model.get_input_embeddings().weight.detach().clone()]
    old.append(model.get_output_embeddings().weight.detach().clone())
    assert [w.shape[0] for w in old] == [285, 285]
    add_request_tokens(backend, torch.Generator().manual_seed(0))
    new = [model.get_input_embeddings().weight, model.get_output_embeddings().weight]
    assert len(backend.tokenizer) == 289 and model.config.get_text_config().vocab_size == 320
    for before, after in zip(old, new):
        assert after.shape == (320, 64)
        assert torch.equal(after[:285], before)
        noise = after[285:].detach() - before.mean(0)  # (35, 64)
        assert abs(float(noise.mean())) < 0.02
        assert float(noise.std()) == pytest.approx(64**-0.5, rel=0.1)
    assert not torch.equal(new[0][285:], new[1][285:])  # two matrices, two means, two draws


def test_sft_saves_them_and_dynframe_needs_them(
    world: Path, stock: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SFT from the stock base writes a checkpoint whose tokenizer has the four tokens as single
    ids; ``--method dynframe`` refuses the stock base in one line and runs on the checkpoint."""
    cfg = recipe("dynframe_sft", world, stock["qwen3_vl"], tmp_path / "run")
    train_sft(cfg)
    export = tmp_path / "run" / "checkpoint-2" / "model"
    backend = load_backend(export)
    assert [backend.encode_text(t) for t in REQUEST_TOKENS] == [[285], [286], [287], [288]]

    video = next((world / "videos").glob("*.mp4"))
    argv = ["infer", str(video), "--question", "When?", "--max-new-tokens", "3"]
    capsys.readouterr()
    assert main([*argv, "--model", str(stock["qwen3_vl"])]) == 1
    errors = [x for x in capsys.readouterr().err.splitlines() if x.startswith("framescope:")]
    assert len(errors) == 1 and "has no <span> </span> <fps> </fps> token(s)" in errors[0]
    assert main([*argv, "--model", str(stock["qwen3_vl"]), "--method", "direct"]) == 0
    assert main([*argv, "--model", str(export)]) == 0

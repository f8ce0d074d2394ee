"""The ``train`` preset and the number vocabulary of the offline models."""

from __future__ import annotations

from framescope.models import tiny


def test_numbers_are_single_tokens_shared_by_stamps_and_answers() -> None:
    tok = tiny.build_tokenizer(numbers=True)

    def pieces(text: str) -> list[str]:
        return [tok.decode([i]) for i in tok(text, add_special_tokens=False).input_ids]

    assert pieces("<12.3 seconds>")[:2] == ["<", "12.3"]
    assert pieces("<span>12.30 - 4.05</span><fps>10</fps>") == [
        "<span>",
        "12.3",
        "0",
        " ",
        "-",
        " ",
        "4.0",
        "5",
        "</span>",
        "<fps>",
        "10",
        "</fps>",
    ]
    assert len(tok) <= tiny.vocab_size(numbers=True)
    # without the vocabulary every digit is a byte, as before
    plain = tiny.build_tokenizer()
    assert len(plain(" 12.3", add_special_tokens=False).input_ids) == 5
    assert len(plain) <= tiny.vocab_size() == tiny.TINY_VOCAB_SIZE


def test_train_preset_is_about_a_million_parameters() -> None:
    for family in tiny.FAMILIES:
        model = tiny.build_model(family, "train", numbers=True)
        n = sum(p.numel() for p in model.parameters())
        assert 1_000_000 < n < 1_600_000, (family, n)
        assert model.config.get_text_config().vocab_size == tiny.NUMBERS_VOCAB_SIZE

"""Throwaway byte-level BPE tokenizers: exact size, every byte kept, Unicode round trip, pair separators."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from tests.fixtures.tiny_corpus import TOKENIZER_TEXT
from tinyhelen.core.errors import ConfigError, DataError
from tinyhelen.tokens.tokenizer import BYTE_ALPHABET, FAMILY_REGISTRY, train_bpe

VOCAB_SIZE = 400
UNICODE = "It is 21° in the 3 m² room; add ½ cup, ¼ spoon and ¾ jar (¹ ³ ¦). Café 東京 🙂\nnext line\ttab"


def _train(family: str, vocab_size: int = VOCAB_SIZE):
    return train_bpe(TOKENIZER_TEXT * 3, family, vocab_size=vocab_size, min_frequency=1, model_max_length=64)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Each family's tokenizer, saved and loaded back through AutoTokenizer."""
    root = tmp_path_factory.mktemp("tokenizers")
    loaded = {}
    for family in FAMILY_REGISTRY:
        _train(family).save_pretrained(root / family)
        loaded[family] = AutoTokenizer.from_pretrained(root / family)
    return loaded


@pytest.mark.parametrize("family", sorted(FAMILY_REGISTRY))
def test_exact_vocabulary_with_specials_first_and_every_byte(saved, family):
    tokenizer = saved[family]
    vocab = tokenizer.get_vocab()
    assert len(tokenizer) == len(vocab) == VOCAB_SIZE
    for expected_id, token in enumerate(FAMILY_REGISTRY[family].specials):
        assert vocab[token] == expected_id
    assert all(symbol in vocab for symbol in BYTE_ALPHABET)
    assert max(vocab.values()) == VOCAB_SIZE - 1
    assert tokenizer.model_max_length == 64


@pytest.mark.parametrize("family", sorted(FAMILY_REGISTRY))
def test_unicode_round_trip_keeps_the_bytes_the_original_lost(saved, family):
    tokenizer = saved[family]
    ids = tokenizer(UNICODE, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == UNICODE
    assert tokenizer.decode(tokenizer(UNICODE)["input_ids"], skip_special_tokens=True) == UNICODE


def test_pair_templates_put_a_separator_between_the_texts(saved):
    bert = saved["bert"]
    ids = bert("a cat", "a dog")["input_ids"]
    first = bert("a cat", add_special_tokens=False)["input_ids"]
    second = bert("a dog", add_special_tokens=False)["input_ids"]
    assert ids == [bert.cls_token_id, *first, bert.sep_token_id, *second, bert.sep_token_id]
    assert bert("a cat", "a dog")["token_type_ids"] == [0] * (len(first) + 2) + [1] * (len(second) + 1)

    xlnet = saved["xlnet"]
    ids = xlnet("a cat", "a dog")["input_ids"]
    assert ids == [
        *first_ids(xlnet, "a cat"),
        xlnet.sep_token_id,
        *first_ids(xlnet, "a dog"),
        xlnet.sep_token_id,
        xlnet.cls_token_id,
    ]
    assert xlnet.padding_side == "left"

    causal = saved["causal"]
    ids = causal("a cat", "a dog")["input_ids"]
    assert ids == [*first_ids(causal, "a cat"), causal.eos_token_id, *first_ids(causal, "a dog"), causal.eos_token_id]
    assert {causal.bos_token, causal.eos_token, causal.pad_token} == {"<s>", "</s>", "<pad>"}


def test_a_single_causal_text_gets_no_end_token(saved):
    """A prompt must not already say end-of-text: packing adds `</s>` to documents itself."""
    causal = saved["causal"]
    ids = causal("The little dog")["input_ids"]
    assert ids == first_ids(causal, "The little dog") and ids[-1] != causal.eos_token_id


@pytest.mark.parametrize("family", ["bert", "xlnet"])
def test_the_mask_token_absorbs_the_space_before_it(saved, family):
    tokenizer = saved[family]
    tokens = tokenizer.convert_ids_to_tokens(first_ids(tokenizer, f"the dog {tokenizer.mask_token} fast"))
    at = tokens.index(tokenizer.mask_token)
    assert tokens[at - 1] != "Ġ" and tokens[:at] == tokenizer.convert_ids_to_tokens(first_ids(tokenizer, "the dog"))
    assert tokens[at + 1 :] == tokenizer.convert_ids_to_tokens(first_ids(tokenizer, " fast"))


def first_ids(tokenizer, text):
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def test_training_is_deterministic():
    assert _train("bert").backend_tokenizer.to_str() == _train("bert").backend_tokenizer.to_str()


def test_too_little_text_to_fill_the_vocabulary_is_a_clear_error():
    with pytest.raises(DataError, match="tokenizer.vocab_size=5000"):
        _train("causal", vocab_size=5000)


def test_vocab_size_without_room_for_merges_names_the_key():
    with pytest.raises(ConfigError, match="tokenizer.vocab_size=261"):
        _train("bert", vocab_size=261)


TRICKY = [
    UNICODE,
    "  leading spaces,\ttabs\t\tand  double  spaces  \n\n  trailing   ",
    "don't won't it's we'll I'M 'quoted' \"dq\"... ?! -- 3.14 1,000 ½² x\u00a0y\u2003z\u3000end\u2028l\r\n",
    "\x1c\x1d odd\x1f controls \x0b\x0c and \x85 next-line",
    "",
    "   ",
    "def f(x):\n    return x  # comment\n\n\n",
    "text that spells specials: [SEP] </s> <cls> [CLS]x",
    "masks: the dog [MASK] fast, a cat  <mask>\t[MASK]",
]


@pytest.mark.parametrize("family", sorted(FAMILY_REGISTRY))
def test_chunk_encoder_gives_the_tokenizers_own_ids(saved, family):
    from tinyhelen.tokens.tokenizer import ChunkEncoder

    backend = saved[family].backend_tokenizer
    encoder = ChunkEncoder(backend)
    stream = encoder.encode_stream(TRICKY, doc_end=0).tolist()
    expected = [i for text in TRICKY for i in backend.encode(text, add_special_tokens=False).ids + [0]]
    assert stream == expected
    assert encoder.count(TRICKY) == [len(backend.encode(t, add_special_tokens=False).ids) for t in TRICKY]

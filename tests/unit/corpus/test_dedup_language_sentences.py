"""Duplicate detection, English detection and the sentence splitters."""

from __future__ import annotations

import pytest

from tinyhelen.core.sentences import make_splitter
from tinyhelen.corpus.dedup import NearDuplicates, count_words, exact_key, normalized_text, shingle_hashes
from tinyhelen.corpus.language import foreign_language, function_word_share, keep_english

STORY = (
    "The lighthouse keeper climbed the spiral stairs every evening at dusk to light the great lamp, and "
    "the ships that passed the rocky point in the dark relied on its slow white flash to find the harbour "
    "mouth safely, even in the worst of the autumn storms when the wind tore at the shutters."
)


def test_exact_key_ignores_case_and_spacing():
    assert exact_key("Hello   World\n") == exact_key("hello world")
    assert exact_key("hello world") != exact_key("hello there")


def test_shingles_are_deterministic_and_order_sensitive():
    assert (shingle_hashes(STORY, 5) == shingle_hashes(STORY, 5)).all()
    assert len(shingle_hashes("two words", 5)) == 1
    assert shingle_hashes("a b c", 2).tolist() != shingle_hashes("c b a", 2).tolist()


def test_signature_is_datasketchs_minhash():
    from datasketch import MinHash

    index = NearDuplicates(num_perm=64, threshold=0.8)
    reference = MinHash(num_perm=64, seed=1, hashfunc=int)
    long_story = STORY * 300  # more shingles than one block
    reference.update_batch(shingle_hashes(long_story, 3).tolist())
    assert index.minhash(long_story, 3).tolist() == reference.hashvalues.tolist()
    assert index.minhash(normalized_text(STORY), 3).tolist() == index.minhash(STORY, 3).tolist()


def test_normalized_text():
    assert normalized_text(" Hello\u00a0  WORLD\n") == b"hello world"
    assert count_words(normalized_text(STORY)) == len(STORY.split()) and count_words(b"") == 0
    assert shingle_hashes(b"", 5).tolist() == [0]


def test_lsh_answers_as_datasketchs_index():
    from datasketch import MinHash, MinHashLSH

    index, reference = NearDuplicates(num_perm=128, threshold=0.5), MinHashLSH(threshold=0.5, num_perm=128)
    sentences = STORY.split(". ")
    texts = [". ".join(sentences[i:] + sentences[:i]) for i in range(len(sentences))] + [STORY, STORY.upper()]
    found = []
    for number, text in enumerate(texts):
        key = f"doc{number}"
        minhash = MinHash(num_perm=128, seed=1, hashvalues=index.minhash(text, 2), scheme="affine32")
        expected = min(reference.query(minhash), default=None)
        if expected is None:
            reference.insert(key, minhash)
        assert index.is_duplicate(key, index.signature(text, 2)) == expected
        found.append(expected)
    assert found[-1] is not None and found.count(None) >= 1  # both answers occur


def test_near_duplicates_found_and_first_kept():
    index = NearDuplicates(num_perm=128, threshold=0.8)
    edited = STORY.replace("every evening", "each evening")
    unrelated = "A recipe for bread: mix flour, water, salt and yeast, knead for ten minutes and leave to rise."
    assert index.is_duplicate("first", index.signature(STORY, 5)) is None
    assert index.is_duplicate("second", index.signature(edited, 5)) == "first"
    assert index.is_duplicate("third", index.signature(unrelated, 5)) is None


def test_function_word_share():
    assert function_word_share("the cat and the dog") == pytest.approx(0.6)
    assert function_word_share("") == 0.0


def test_language_model_cache_is_written_and_rebuilt_when_damaged(tmp_path, monkeypatch, caplog):
    from tinyhelen.corpus import language

    monkeypatch.setenv("TINYHELEN_LANGID_CACHE", str(tmp_path / "langid"))
    french = "Le marché de la place centrale ouvre chaque samedi matin avec des producteurs locaux."
    try:
        language._identifier.cache_clear()
        expected = language.identify(french)
        cache = language.model_cache_path()
        assert cache.parent == tmp_path / "langid" and cache.stat().st_size > 0
        language._identifier.cache_clear()
        assert language.identify(french) == expected  # read back from the cache
        cache.write_bytes(b"not a zstd frame")
        language._identifier.cache_clear()
        assert language.identify(french) == expected and "rebuilding" in caplog.text
        assert cache.read_bytes() != b"not a zstd frame"
    finally:
        language._identifier.cache_clear()


def test_foreign_language_detection():
    assert foreign_language(STORY, threshold=0.9) is None
    french = "Le marché de la place centrale ouvre chaque samedi matin avec des producteurs locaux."
    assert foreign_language(french, threshold=0.9)[0] == "fr"


def test_keep_english_short_lines_kept():
    text = "Chapitre un\n" + STORY
    kept, reason = keep_english(text, threshold=0.9, min_paragraph_chars=100, min_english_share=0.5)
    assert reason is None and kept == text


@pytest.mark.parametrize("name", ["spacy", "pysbd"])
def test_splitters_handle_abbreviations_and_lines(name):
    split = make_splitter(name)
    assert split("Dr. Lee came at 5 p.m. today. She left!\nBye") == [
        "Dr. Lee came at 5 p.m. today.",
        "She left!",
        "Bye",
    ]


def test_punkt_is_trained_on_given_texts():
    training = [STORY + " Mr. Ames and Dr. Ruiz spoke. Dr. Ruiz left. Mr. Ames stayed." * 3]
    split = make_splitter("punkt", training)
    assert split("It rained. We stayed in.\nThen sun.") == ["It rained.", "We stayed in.", "Then sun."]
    with pytest.raises(ValueError, match="training_texts"):
        make_splitter("punkt")
    with pytest.raises(ValueError, match="unknown sentence splitter"):
        make_splitter("nope")

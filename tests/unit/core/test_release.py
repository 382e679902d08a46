"""Per-genre normalisation and the release `hash` rule that aligns ori and leaner records."""

from __future__ import annotations

import pytest

from tests.fixtures.tiny_release import ORI, ORI_CONVERSATIONS, ORI_INSTRUCTIONS, leaner_of
from tinyhelen.core.release import (
    BUDGET_DIRS,
    normalise_document,
    normalise_glue,
    normalise_question,
    sha256_text,
    split_genre_file,
    strip_tags,
)


def _norm(raw, genre, variant="ori"):
    return normalise_document(raw, variant=variant, genre=genre, split="train", budget_dir="10M", origin="f:1")


@pytest.mark.parametrize("genre", ["web", "book", "wiki", "textbook", "code", "math"])
def test_ori_and_leaner_align_by_id(genre):
    (raw,) = ORI[("10M", "train", genre)][:1]
    ori = _norm(raw, genre)
    leaner = _norm(leaner_of(genre, raw), genre, "leaner")
    assert ori["id"] == leaner["id"]
    assert len(ori["id"]) == 64
    assert ori["genre"] == genre and ori["variant"] == "ori" and leaner["variant"] == "leaner"


def test_conversation_string_and_leaner_record_align():
    script = ORI_CONVERSATIONS[("10M", "train")][0]
    ori = _norm(script, "conversation")
    assert ori["text"] == script and ori["id"] == sha256_text(script)
    assert _norm(leaner_of("conversation", script), "conversation", "leaner")["id"] == ori["id"]


def test_instruction_hash_joins_nonempty_parts():
    raw = ORI_INSTRUCTIONS[0]
    record = _norm(raw, "instruction")
    assert record["id"] == sha256_text("Name two colours. Red and blue.")
    assert record["instruction"] == "Name two colours." and record["input"] == ""


def test_wiki_id_hashes_tag_stripped_text_but_keeps_raw_text():
    raw = {"77": "<br>\nTitle\nBody <small>x</small>."}
    record = _norm(raw, "wiki")
    assert record["id"] == sha256_text("Title\nBody x.")
    assert record["text"] == raw["77"]  # markup removal is the clean stage's job
    assert record["wiki_id"] == "77"


def test_code_text_is_prompt_space_response():
    raw = {"prompt": "P", "response": "R", "programming_language": "Rust", "idx": 1}
    record = _norm(raw, "code")
    assert record["text"] == "P R" and record["id"] == sha256_text("P R")
    assert record["meta"] == {"programming_language": "Rust", "idx": 1}


def test_math_keeps_structure_and_ignores_stored_hash():
    raw = {"problem": "1+1?", "hints": ["2"], "problem_domain": "441", "problem_idx": "3", "hash": "x" * 64}
    record = _norm(raw, "math", "leaner")
    assert record["id"] == sha256_text("1+1? 2")
    assert record["hints"] == ["2"] and "hash" not in record["meta"]


def test_textbook_keeps_source_passage():
    raw = ORI[("10M", "train", "textbook")][0]
    record = _norm(raw, "textbook")
    assert record["text"] == raw["textbook"] and record["source_text"] == raw["text"]
    assert record["meta"] == {"source": "minipile", "s": "0.71", "len": "52", "idx": "9"}


@pytest.mark.parametrize(
    ("raw", "genre", "variant", "message"),
    [
        ({"meta": "x"}, "web", "ori", "missing field 'text'"),
        ({"text": 5}, "book", "ori", "should be str"),
        ({"text": "t"}, "web", "leaner", "missing or malformed 'hash'"),
        ({"text": "t", "hash": "abc"}, "web", "leaner", "malformed 'hash'"),
        ({"1": "a", "2": "b"}, "wiki", "ori", "one key"),
        ({"problem": "p", "hints": "not a list"}, "math", "ori", "should be list"),
        ({"problem": "p", "hints": [1]}, "math", "ori", "list of strings"),
        (["a list"], "web", "ori", "JSON object"),
        (5, "conversation", "ori", "should be a string"),
    ],
)
def test_schema_violations(raw, genre, variant, message):
    with pytest.raises(ValueError, match=message):
        _norm(raw, genre, variant)


def test_glue_normalisation_and_checks():
    record = normalise_glue(
        {"sentence1": "a", "sentence2": "b", "label": 3, "idx": 9}, task="stsb", split="train", origin="f:1"
    )
    assert record["label"] == 3.0 and record["id"] == "stsb/train/9"
    with pytest.raises(ValueError, match="integer in \\[0, 2\\]"):
        normalise_glue(
            {"premise": "a", "hypothesis": "b", "label": 3, "idx": 1}, task="mnli", split="train", origin="f:1"
        )
    with pytest.raises(ValueError, match="missing field 'sentence'"):
        normalise_glue({"label": 1, "idx": 1}, task="cola", split="train", origin="f:1")
    with pytest.raises(ValueError, match="stsb 'label'"):
        normalise_glue(
            {"sentence1": "a", "sentence2": "b", "label": 7, "idx": 1}, task="stsb", split="train", origin="f:1"
        )


def test_question_id_is_release_hash_or_computed():
    assert normalise_question({"question": "Why?"}, eval_set="all", origin="f:1")["id"] == sha256_text("Why?")
    given = "a" * 64
    assert normalise_question({"question": "Why?", "hash": given}, eval_set="all", origin="f:1")["id"] == given


def test_split_genre_file():
    assert split_genre_file("web0003.jsonl.zst") == ("web", ".jsonl.zst")
    assert split_genre_file("conversation0000.json.zst") == ("conversation", ".json.zst")
    assert split_genre_file("math0000.jsonl") == ("math", ".jsonl")
    assert split_genre_file("statistics.txt") is None
    assert split_genre_file("web.jsonl") is None
    assert split_genre_file("0000.jsonl") is None


def test_strip_tags_and_budgets():
    assert strip_tags("<br>\nA <b>b</b> c<br/> ") == "A b c"
    assert BUDGET_DIRS["100M"] == ("10M", "100M")

"""Leaner-GLUE construction against the fake endpoint, from a local GLUE folder written for this test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fake_llm_server import FakeLLMServer
from tinyhelen.core.config import with_changes
from tinyhelen.core.io import iter_records, write_jsonl
from tinyhelen.simplify.leaner_glue import build_leaner_glue

# The fake model labels an item 0 when it contains the word "not", else 1; gold labels below agree except
# for the items marked wronglabel (their check fails) and noend (their simplification fails).
COLA = [
    "The cat is not on the mat.",
    "The cat sat on the mat.",
    "A bird did not sing today.",
    "The children played outside all afternoon.",
    "My brother does not like green beans.",
    "We walked to the river together.",
    "The FAULT:wronglabel example goes here.",
    "Birds FAULT:noend fly south.",
]


def write_glue(folder: Path) -> None:
    def cola(split: str, offset: int) -> list[dict]:
        return [{"sentence": s, "label": 0 if " not " in s else 1, "idx": offset + i} for i, s in enumerate(COLA)]

    write_jsonl(folder / "cola_train.jsonl", cola("train", 0))
    write_jsonl(folder / "cola_validation.jsonl", cola("validation", 100))
    pairs = [
        ("The shop is open.", "The shop is not closed.", 0),
        ("A dog barked.", "A dog made a sound.", 1),
        ("It rained.", "It did not rain.", 0),
        ("Tom ran home.", "Tom went home fast.", 1),
    ]
    for split in ("train", "validation_matched", "validation_mismatched"):
        write_jsonl(
            folder / f"mnli_{split}.jsonl",
            [{"premise": p, "hypothesis": h, "label": label, "idx": i} for i, (p, h, label) in enumerate(pairs)],
        )
    write_jsonl(
        folder / "stsb_train.jsonl",
        [
            {"sentence1": "A man sings.", "sentence2": "A man is singing.", "label": 1.2, "idx": 0},
            {"sentence1": "A girl reads.", "sentence2": "A boy swims.", "label": 4.0, "idx": 1},
        ],
    )
    write_jsonl(
        folder / "stsb_validation.jsonl",
        [{"sentence1": "Cats sleep.", "sentence2": "Cats nap.", "label": 0.8, "idx": 0}],
    )


@pytest.fixture
def glue_env(tmp_path, monkeypatch):
    with FakeLLMServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-glue")
        monkeypatch.setenv("TINYHELEN_LLM_CACHE", str(tmp_path / "cache.sqlite"))
        yield server


def test_leaner_glue_keeps_items_whose_label_survives(params, tmp_path, glue_env):
    write_glue(tmp_path / "glue")
    settings = with_changes(
        params.glue_simplify, enabled=True, source=str(tmp_path / "glue"), tasks=["cola", "mnli", "stsb"]
    )
    result = build_leaner_glue(settings, params.llm, tmp_path / "out")
    cola = result.metrics["tasks"]["cola"]
    assert (cola["items_in"], cola["items_kept"]) == (16, 12) and cola["retention"] == 0.75
    assert cola["failures"] == {"label_changed": 2, "no_end_marker": 2}
    assert cola["files"] == {"train": 6, "validation": 3, "test": 3}
    train = [r for _, r in iter_records(tmp_path / "out" / "cola_train.jsonl")]
    assert set(train[0]) == {"sentence", "label", "idx"} and "thing" in " ".join(r["sentence"] for r in train)
    validation = [r for _, r in iter_records(tmp_path / "out" / "cola_validation.jsonl")]
    test = [r for _, r in iter_records(tmp_path / "out" / "cola_test.jsonl")]
    assert not {r["idx"] for r in validation} & {r["idx"] for r in test}
    for label in (0, 1):  # stratified halves: each label split as evenly as it can be
        assert abs(sum(r["label"] == label for r in validation) - sum(r["label"] == label for r in test)) <= 1
    assert sorted(p.name for p in (tmp_path / "out").glob("mnli_*")) == [
        "mnli_test_matched.jsonl",
        "mnli_test_mismatched.jsonl",
        "mnli_train.jsonl",
        "mnli_validation_matched.jsonl",
        "mnli_validation_mismatched.jsonl",
    ]
    stsb = result.metrics["tasks"]["stsb"]  # the fake answers 0 or 1: within 0.5 of 1.2 and 0.8 only
    assert stsb["items_kept"] == 2 and stsb["failures"] == {"label_changed": 1}
    calls = len(glue_env.requests)
    again = build_leaner_glue(settings, params.llm, tmp_path / "again")
    assert len(glue_env.requests) == calls and again.metrics["tasks"]["cola"]["llm_calls"] == 0


def test_disabled_writes_an_empty_folder(params, tmp_path):
    result = build_leaner_glue(params.glue_simplify, params.llm, tmp_path / "out")
    assert result.metrics == {"enabled": False, "tasks": {}} and list((tmp_path / "out").iterdir()) == []


def test_missing_local_source_is_a_clear_error(params, tmp_path, glue_env):
    from tinyhelen.core.errors import DataError

    settings = with_changes(params.glue_simplify, enabled=True, source=str(tmp_path / "nowhere"), tasks=["rte"])
    with pytest.raises(DataError, match="rte_train.jsonl: GLUE source file missing"):
        build_leaner_glue(settings, params.llm, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_hub_source_goes_through_datasets(monkeypatch):
    import datasets

    from tinyhelen.simplify.leaner_glue import load_source

    calls = []

    def fake_load_dataset(path, name, split):
        calls.append((path, name, split))
        return [{"question1": "Why?", "question2": "How come?", "label": 1, "idx": 7, "extra": 0}] * 3

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    items = load_source("hf:nyu-mll/glue", "qqp", "validation", max_items=2)
    assert calls == [("nyu-mll/glue", "qqp", "validation")]
    assert items == [{"question1": "Why?", "question2": "How come?", "label": 1, "idx": 7}] * 2

"""Minimal-pair readers (Zorro, BLiMP local and hub stand-in), the n-gram reference, outcomes and intervals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tinyhelen.core.errors import DataError
from tinyhelen.eval import minimal_pairs
from tinyhelen.eval.minimal_pairs import load_pairs, zorro_phenomenon
from tinyhelen.eval.probe import accuracy_block, pair_outcomes, report
from tinyhelen.eval.scoring import NGramModel, in_vocabulary, word_counts, words

ZORRO = {
    "agreement_subject_verb-simple.txt": ["the cat sit .", "the cat sits .", "the cats sits .", "the cats sit ."],
    "filler-gap-wh_object.txt": ["what did she eat the cake ?", "what did she eat ?"],
}
BLIMP = [
    {
        "sentence_good": "The cat sleeps.",
        "sentence_bad": "The cat sleep.",
        "UID": "sv_agreement",
        "linguistics_term": "agreement",
    },
    {
        "sentence_good": "She saw herself.",
        "sentence_bad": "She saw himself.",
        "UID": "anaphor_gender",
        "linguistics_term": "anaphor_agreement",
    },
]


def _zorro(folder: Path, files: dict[str, list[str]] = ZORRO) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, lines in files.items():
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def _blimp(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mixed.jsonl").write_text("".join(json.dumps(r) + "\n" for r in BLIMP), encoding="utf-8")
    return folder


def test_zorro_reader_pairs_odd_bad_with_even_good(tmp_path):
    pairs = load_pairs(str(_zorro(tmp_path / "z")))
    assert [(p.paradigm, p.phenomenon, p.good, p.bad) for p in pairs] == [
        ("agreement_subject_verb-simple", "agreement_subject_verb", "the cat sits .", "the cat sit ."),
        ("agreement_subject_verb-simple", "agreement_subject_verb", "the cats sit .", "the cats sits ."),
        ("filler-gap-wh_object", "filler-gap", "what did she eat ?", "what did she eat the cake ?"),
    ]
    assert pairs[1].origin.endswith("agreement_subject_verb-simple.txt:4")
    assert zorro_phenomenon("island-effects-coordinate_structure_constraint") == "island-effects"
    assert zorro_phenomenon("case") == "case"


def test_zorro_selection_and_max_pairs(tmp_path):
    folder = _zorro(tmp_path / "z")
    assert {p.paradigm for p in load_pairs(str(folder), paradigms=["filler-gap-wh_object"])} == {"filler-gap-wh_object"}
    assert len(load_pairs(str(folder), "zorro", max_pairs=1)) == 2
    with pytest.raises(DataError, match="no paradigm"):
        load_pairs(str(folder), paradigms=["nosuch"])


@pytest.mark.parametrize(
    ("lines", "where"),
    [
        (["a b .", "a c .", "d e ."], "bad.txt:3: odd number of lines"),
        (["a b .", "", "d e .", "d f ."], "bad.txt:2: empty line"),
    ],
)
def test_malformed_zorro_file_names_file_and_line(tmp_path, lines, where):
    folder = _zorro(tmp_path / "z", {"bad.txt": lines})
    with pytest.raises(DataError, match=where):
        load_pairs(str(folder))


def test_blimp_reader_local_folder(tmp_path):
    pairs = load_pairs(str(_blimp(tmp_path / "b")))
    assert [(p.paradigm, p.phenomenon, p.good, p.bad) for p in pairs] == [
        ("sv_agreement", "agreement", "The cat sleeps.", "The cat sleep."),
        ("anaphor_gender", "anaphor_agreement", "She saw herself.", "She saw himself."),
    ]
    assert pairs[1].origin.endswith("mixed.jsonl:2")
    (tmp_path / "b" / "mixed.jsonl").write_text(json.dumps({"sentence_good": "x"}) + "\n")
    with pytest.raises(DataError, match=r"mixed.jsonl:1: missing or empty 'sentence_bad'"):
        load_pairs(str(tmp_path / "b"))


def test_auto_format_refuses_a_folder_of_both(tmp_path):
    folder = _blimp(_zorro(tmp_path / "both"))
    with pytest.raises(DataError, match="both"):
        load_pairs(str(folder))
    assert len(load_pairs(str(folder), "blimp")) == 2
    with pytest.raises(DataError, match="no such minimal-pair folder"):
        load_pairs(str(tmp_path / "absent"))


def test_hub_source_goes_through_datasets_with_a_local_stand_in(tmp_path, monkeypatch):
    """`hf:nyu-mll/blimp` lists the repo's configs and loads each one's train split through `datasets`; here
    the two calls are routed to local JSON files loaded by the real `datasets.load_dataset("json", ...)`."""
    import datasets

    local = tmp_path / "hub"
    local.mkdir()
    for record in BLIMP:
        (local / f"{record['UID']}.jsonl").write_text(json.dumps(record) + "\n")
    real_load = datasets.load_dataset
    calls = []

    def config_names(repo, revision=None):
        calls.append(("configs", repo, revision))
        return sorted(p.stem for p in local.glob("*.jsonl"))

    def load_dataset(repo, name, split, revision=None, cache_dir=None):
        calls.append(("load", repo, name, split, revision))
        return real_load(
            "json", data_files=str(local / f"{name}.jsonl"), split=split, cache_dir=str(tmp_path / "cache")
        )

    monkeypatch.setattr(datasets, "get_dataset_config_names", config_names)
    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    pairs = load_pairs("hf:nyu-mll/blimp@abc123", paradigms=["sv_agreement"])
    assert [(p.paradigm, p.good, p.origin) for p in pairs] == [
        ("sv_agreement", "The cat sleeps.", "hf:nyu-mll/blimp/sv_agreement#0")
    ]
    assert calls == [
        ("configs", "nyu-mll/blimp", "abc123"),
        ("load", "nyu-mll/blimp", "sv_agreement", "train", "abc123"),
    ]
    with pytest.raises(DataError, match="BLiMP format"):
        load_pairs("hf:nyu-mll/blimp", "zorro")


def test_bundled_sample_pairs_are_well_formed():
    pairs = load_pairs("sample")
    assert len(pairs) >= 30 and len({p.paradigm for p in pairs}) >= 5
    assert all(p.good != p.bad for p in pairs)
    assert minimal_pairs.SAMPLE_DIR == Path("data/sample/probe")


def test_unigram_and_bigram_add_k():
    texts = ["the cat sat .", "the dog sat ."]
    uni = NGramModel(1, 1.0).fit(texts)
    # N = 8 tokens, V = 5 types: P(the) = (2 + 1) / (8 + 6)
    assert uni.log_prob("the") == pytest.approx(np.log(3 / 14))
    assert uni.log_prob("zebra") == pytest.approx(np.log(1 / 14))
    assert uni.log_prob("the cat") == pytest.approx(np.log(3 / 14) + np.log(2 / 14))
    assert uni.log_prob("the cat sat .") == uni.log_prob("sat cat the .")  # word order is invisible
    bi = NGramModel(2, 0.5).fit(texts)
    # P(the | <s>) = (2 + .5) / (2 + .5 * 6); P(cat | the) = (1 + .5) / (2 + 3)
    assert bi.log_prob("the cat") == pytest.approx(np.log(2.5 / 5) + np.log(1.5 / 5))
    assert bi.log_prob("the cat sat .") > bi.log_prob("sat cat the .")


def test_vocabulary_filter_and_words():
    assert words("The dog's bone.") == ["the", "dog", "'", "s", "bone", "."]
    counts = word_counts(["the cat sat .", "the cat ran ."])
    assert in_vocabulary(["the cat sat .", "the cat flew ."], counts, 1).tolist() == [True, False]
    assert in_vocabulary(["the cat sat ."], counts, 2).tolist() == [False]
    assert in_vocabulary(["anything"], counts, 0).tolist() == [True]


def test_outcomes_ties_and_bootstrap():
    outcomes = pair_outcomes([-1.0, -2.0, -3.0, -4.0], [-2.0, -1.0, -3.0, -4.00001], tolerance=1e-4)
    assert outcomes.tolist() == [1.0, 0.0, 0.5, 0.5]
    block = accuracy_block(outcomes, np.random.default_rng(0), 1000)
    assert block["accuracy"] == 0.5 and block["tie_rate"] == 0.5 and block["pairs"] == 4
    assert 0.0 <= block["ci95"][0] < 0.5 < block["ci95"][1] <= 1.0
    assert accuracy_block(np.array([0.5] * 10), np.random.default_rng(0), 100)["ci95"] == [0.5, 0.5]
    assert accuracy_block(np.array([]), np.random.default_rng(0), 100)["accuracy"] is None


def test_report_levels_and_filter(tmp_path):
    pairs = load_pairs(str(_zorro(tmp_path / "z")))
    outcomes = np.array([1.0, 0.0, 1.0])
    metrics = report(pairs, outcomes, np.array([True, False, True]), resamples=200, seed=1, min_word_count=3)
    assert metrics["overall"]["accuracy"] == round(2 / 3, 4)
    assert metrics["phenomena"]["agreement_subject_verb"]["accuracy"] == 0.5
    assert metrics["paradigms"]["filler-gap-wh_object"]["pairs"] == 1
    assert metrics["filtered"]["overall"] == {**metrics["filtered"]["overall"], "accuracy": 1.0, "pairs": 2}
    assert metrics["filtered"]["min_word_count"] == 3
    assert list(metrics["filtered"]["phenomena"]) == list(metrics["phenomena"])
    again = report(pairs, outcomes, np.array([True, False, True]), resamples=200, seed=1, min_word_count=3)
    assert again == metrics  # deterministic


def test_prefix_trees_merge_shared_prefixes_and_keep_every_row():
    from tinyhelen.eval.scoring import prefix_trees

    rows = [[0, 5, 6, 7], [0, 5, 6, 8], [0, 9], [0, 5, 6, 7], [0, 5], [0, 1, 2, 3, 4, 5, 6]]
    (tree,) = prefix_trees(rows, max_nodes=64)
    # the trie of the rows: 0 -> {1 -> 2 -> 3 -> 4 -> 5 -> 6, 5 -> 6 -> {7, 8}, 9}
    assert len(tree.tokens) == 1 + 6 + 4 + 1
    for index, row in enumerate(rows):
        path = tree.paths[index]
        assert [tree.tokens[n] for n in path] == row and [tree.depths[n] for n in path] == list(range(len(row)))
        assert [tree.parents[n] for n in path] == [-1, *path[:-1]]
    assert tree.paths[0] == tree.paths[3]
    mask = tree.ancestor_mask(len(tree.tokens) + 2)
    leaf = tree.paths[1][-1]
    assert set(np.flatnonzero(mask[leaf])) == set(tree.paths[1])
    assert mask[-1].sum() == 1 and mask[-1, -1]  # padding sees only itself
    # small trees: no tree over the limit unless one row alone is; every row in exactly one tree
    trees = prefix_trees(rows, max_nodes=5)
    assert all(len(t.tokens) <= 5 or len(t.paths) == 1 for t in trees)
    assert sorted(i for t in trees for i in t.paths) == list(range(len(rows)))

"""Stage `simplify` end to end on the ingested bundled sample (release and rules backends), the llm backend
through the stage with MLflow on, and release on ../shared/tinyhelen-data when present."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tests.fake_llm_server import FakeLLMServer
from tests.fixtures.simplify_corpus import write_simplify_corpus
from tinyhelen.core.io import iter_records, read_json


def records(path: Path) -> list[dict]:
    return [record for _, record in iter_records(path)]


def params_file(tmp_path: Path, name: str, **sections) -> Path:
    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    for section, values in sections.items():
        raw[section].update(values)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="module")
def sample_clean(tmp_path_factory) -> Path:
    """The bundled sample through `ingest` (data/raw has the clean stage's layout and schema)."""
    from stages import ingest

    out = tmp_path_factory.mktemp("sample") / "clean"
    ingest.main(
        ["--out", str(out), "--metrics", str(out.parent / "ingest.json"), "--params", str(REPO_ROOT / "params.yaml")]
    )
    return out


def test_release_backend_on_sample(sample_clean, tmp_path):
    from stages import simplify

    simplify.main(
        [
            "--clean",
            str(sample_clean),
            "--out",
            str(tmp_path / "leaner"),
            "--metrics",
            str(tmp_path / "simplify.json"),
            "--params",
            str(REPO_ROOT / "params.yaml"),
        ]
    )
    metrics = read_json(tmp_path / "leaner" / "stats.json")
    assert metrics["backend"] == "release"
    rejects = records(tmp_path / "leaner" / "rejects.jsonl")
    assert rejects and {r["reason"] for r in rejects} == {"not in release"}
    for genre, numbers in metrics["genres"].items():
        name = "instruction.jsonl" if genre == "instruction" else None
        paths = [sample_clean / "ori" / name] if name else sorted((sample_clean / "ori").glob(f"*/{genre}.jsonl"))
        originals = [r["id"] for p in paths for r in records(p)]
        assert numbers["documents_in"] == len(originals), genre
        assert numbers["documents_out"] + sum(numbers["failures"].values()) == len(originals)
        assert set(numbers) >= {
            "word_ratio",
            "llm_calls",
            "cache_hits",
            "input_tokens",
            "output_tokens",
            "estimated_cost",
            "failures",
        }
    web = records(tmp_path / "leaner" / "train" / "web.jsonl")
    twins = {r["id"]: r for r in records(sample_clean / "leaner" / "train" / "web.jsonl")}
    assert web and all(r == twins[r["id"]] and r["variant"] == "leaner" for r in web)
    meta = read_json(tmp_path / "leaner" / "meta.json")
    assert meta["stage"] == "simplify" and meta["config"]["simplify"]["backend"] == "release"


def test_rules_backend_on_sample(sample_clean, tmp_path):
    from stages import simplify

    params = params_file(tmp_path, "params.yaml", simplify={"backend": "rules", "genres": ["web", "code", "math"]})
    simplify.main(
        [
            "--clean",
            str(sample_clean),
            "--out",
            str(tmp_path / "leaner"),
            "--metrics",
            str(tmp_path / "simplify.json"),
            "--params",
            str(params),
        ]
    )
    metrics = read_json(tmp_path / "leaner" / "stats.json")
    assert metrics["ner"] == "heuristic" and metrics["genres"]["web"]["documents_out"] > 0
    assert metrics["genres"]["math"]["documents_out"] == metrics["genres"]["math"]["documents_in"]
    for record in records(tmp_path / "leaner" / "train" / "web.jsonl"):
        assert "@" not in record["text"].replace("name@email.com", "") and record["variant"] == "leaner"
    assert 0 < metrics["genres"]["web"]["word_ratio"] < 1


@pytest.mark.slow  # MLflow's sqlite store takes ~15 s to set up on 2 busy cores
def test_llm_backend_through_the_stage_keeps_the_key_out_of_mlflow(tmp_path, monkeypatch, mlflow_store):
    from mlflow import MlflowClient

    from stages import simplify

    secret = "sk-test-NEVER-IN-MLFLOW-7731"
    corpus = write_simplify_corpus(tmp_path / "clean", web_faults=(), instructions=1)
    params = params_file(tmp_path, "params.yaml", simplify={"backend": "llm", "genres": ["web"], "splits": ["train"]})
    with FakeLLMServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", secret)
        monkeypatch.setenv("TINYHELEN_LLM_CACHE", str(tmp_path / "cache.sqlite"))
        simplify.main(
            [
                "--clean",
                str(corpus),
                "--out",
                str(tmp_path / "leaner"),
                "--metrics",
                str(tmp_path / "simplify.json"),
                "--params",
                str(params),
            ]
        )
    metrics = read_json(tmp_path / "leaner" / "stats.json")
    # two web stories, one instruction kept; the instruction with FAULT:echo rejected after its
    # llm.max_parse_retries = 2 re-asks (new requests): 4 first calls + 2
    assert metrics["total"]["documents_out"] == 3 and metrics["total"]["reasks"] == 2
    assert metrics["total"]["llm_calls"] == 6
    client = MlflowClient(mlflow_store)
    (run,) = client.search_runs([client.get_experiment_by_name("tinyhelen").experiment_id])
    assert run.data.params["simplify.backend"] == "llm" and run.data.metrics["total.llm_calls"] == 6
    dumped = json.dumps([run.data.params, run.data.tags, run.data.metrics])
    assert secret not in dumped
    for path in [*tmp_path.rglob("*.json"), *tmp_path.rglob("*.jsonl"), params]:
        assert secret not in path.read_text()


@pytest.mark.shared_data
def test_release_on_shared_data_matches_179_of_180(shared_data, tmp_path):
    from stages import ingest, simplify

    params = params_file(
        tmp_path,
        "params.yaml",
        data={
            "source": str(shared_data),
            "genres": ["web"],
            "splits": ["validation"],
            "glue_tasks": [],
            "eval_sets": [],
            "instructions": False,
        },
        simplify={"genres": ["web"], "splits": ["validation"], "instructions": False},
    )
    ingest.main(["--out", str(tmp_path / "clean"), "--metrics", str(tmp_path / "ingest.json"), "--params", str(params)])
    simplify.main(
        [
            "--clean",
            str(tmp_path / "clean"),
            "--out",
            str(tmp_path / "leaner"),
            "--metrics",
            str(tmp_path / "simplify.json"),
            "--params",
            str(params),
        ]
    )
    web = read_json(tmp_path / "leaner" / "stats.json")["genres"]["web"]
    assert (web["documents_in"], web["documents_out"]) == (180, 179)
    assert web["failures"] == {"not in release": 1}

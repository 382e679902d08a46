"""Model cards: Hub metadata, parameter counts from the safetensors headers, the experiment's changed params,
deterministic text, and a later stage's scores added to the card."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from tinyhelen.pretrain.cards import (
    card_with_scores,
    changed_params,
    parameter_counts,
    render_model_card,
    write_model_card,
)
from tinyhelen.pretrain.models import build_model, count_parameters


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    from tests.conftest import REPO_ROOT
    from tinyhelen.params import load_params

    params = load_params(REPO_ROOT / "params.yaml")
    out = tmp_path_factory.mktemp("cards") / "bert-leaner-s65"
    model = build_model("bert", params.model, 300, {"pad": 0})
    model.save_pretrained(out)
    return out, count_parameters(model)


def test_card_metadata_body_and_counts(saved):
    model_dir, counts = saved
    assert parameter_counts(model_dir) == counts
    path = write_model_card(
        model_dir,
        arch="bert",
        corpus="leaner",
        data_source="hf:EmpathYang/TinyHelen",
        tokens_seen=16384,
        metrics={"val/loss": 7.123456789, "steps": 16},
        params={"pretrain": {"max_steps": 16}},
        changed={"pretrain.max_steps": [8, 16]},
        exp_name="bushy-lamb",
        scores={"Zorro probe": {"accuracy": 0.61234}},
    )
    card = path.read_text()
    meta = yaml.safe_load(card.split("---\n")[1])
    assert meta["library_name"] == "transformers" and meta["pipeline_tag"] == "fill-mask"
    assert meta["datasets"] == ["EmpathYang/TinyHelen"] and meta["license"] == "mit"
    assert {"tinyhelen", "bert", "corpus-leaner", "mlm"} <= set(meta["tags"])
    assert "Tokens seen: 16,384" in card and f"{counts['total']:,} in total" in card
    assert "DVC experiment: `bushy-lamb`" in card and "| `pretrain.max_steps` | 8 | 16 |" in card
    assert "| `val/loss` | 7.1235 |" in card and "| `accuracy` | 0.6123 |" in card
    assert 'pipeline("fill-mask", model=path)' in card
    again = render_model_card(
        model_dir,
        arch="bert",
        corpus="leaner",
        data_source="hf:EmpathYang/TinyHelen",
        tokens_seen=16384,
        metrics={"val/loss": 7.123456789, "steps": 16},
        params={"pretrain": {"max_steps": 16}},
        changed={"pretrain.max_steps": [8, 16]},
        exp_name="bushy-lamb",
        scores={"Zorro probe": {"accuracy": 0.61234}},
    )
    assert again == card  # deterministic: nothing in it depends on when or where it was written

    from huggingface_hub import ModelCard

    assert ModelCard.load(path).data.library_name == "transformers"  # the Hub's own parser reads it


def test_changed_params_against_the_baseline_commit(tmp_path):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "params.yaml").write_text(
        yaml.safe_dump({"seed": 65, "pretrain": {"max_steps": 16, "lr": 1}, "glue": {"seeds": [1]}})
    )
    git("add", "params.yaml")
    git("-c", "user.email=a@b", "-c", "user.name=t", "commit", "-qm", "base")
    (tmp_path / "params.yaml").write_text(
        yaml.safe_dump({"seed": 65, "pretrain": {"max_steps": 32, "lr": 1}, "glue": {"seeds": [1, 2]}})
    )
    assert changed_params("params.yaml", None, ["seed", "pretrain"], cwd=tmp_path) == {"pretrain.max_steps": [16, 32]}
    assert changed_params("params.yaml", None, cwd=tmp_path) == {
        "glue.seeds": [[1], [1, 2]],
        "pretrain.max_steps": [16, 32],
    }
    assert changed_params("params.yaml", "no-such-rev", cwd=tmp_path) == {}


def test_a_later_stage_adds_its_scores(saved, tmp_path):
    model_dir, _ = saved
    (model_dir / "meta.json").write_text(
        json.dumps(
            {"stage": "pretrain", "arch": "bert", "corpus": "leaner", "metrics": {"val/loss": 7.5, "tokens_seen": 10}}
        )
    )
    out = card_with_scores(
        model_dir, {"Leaner-GLUE": {"average": {"test": 0.4321}}}, data_source="sample", out_path=tmp_path / "README.md"
    )
    card = out.read_text()
    assert "### Leaner-GLUE" in card and "| `average.test` | 0.4321 |" in card and "| `val/loss` | 7.5 |" in card
    assert card_with_scores(tmp_path, {}, data_source="sample", out_path=tmp_path / "x.md") is None

"""The training loop on tiny models and tiny packs: every family learns, runs repeat, resume is exact.

pytest tests/component/pretrain/test_run.py
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.conftest import REPO_ROOT
from tests.fixtures.tiny_packs import write_tiny_packs
from tinyhelen.core.config import with_changes
from tinyhelen.core.errors import ConfigError, DataError
from tinyhelen.core.runtime import load_tokenizer
from tinyhelen.core.tracking import NullLogger
from tinyhelen.params import load_params
from tinyhelen.pretrain.loop import evaluate
from tinyhelen.pretrain.models import arch_spec
from tinyhelen.pretrain.objectives import make_objective
from tinyhelen.pretrain.run import pretrain
from tinyhelen.tokens.shards import open_split, read_pack_index

TINY_MODEL = {
    "llama": {"hidden_size": 16, "intermediate_size": 32, "num_attention_heads": 2, "num_key_value_heads": 2},
    "mamba": {
        "hidden_size": 16,
        "intermediate_size": 32,
        "mamba_d_state": 8,
        "mamba_d_head": 8,
        "mamba_n_heads": 4,
        "mamba_chunk_size": 16,
    },
    "bert": {"hidden_size": 16, "intermediate_size": 32, "num_attention_heads": 2},
    "xlnet": {"d_model": 16, "n_head": 2, "d_head": 8, "d_inner": 32},
}


@pytest.fixture(scope="module")
def packs(tmp_path_factory) -> Path:
    return write_tiny_packs(tmp_path_factory.mktemp("packs"), block_size=32)


def tiny_params(run_dir: Path, **pretrain_changes):
    params = load_params(REPO_ROOT / "params.yaml")
    model_raw = params.model.model_dump()
    for arch, dims in TINY_MODEL.items():
        model_raw[arch].update(dims)
    changes = {
        "max_steps": 20,
        "batch_size": 8,
        "micro_batch_size": 4,
        "warmup_steps": 2,
        "log_every": 5,
        "eval_every": 10,
        "eval_batches": 2,
        "save_every": 0,
        "run_dir": str(run_dir),
        "device": "cpu",
        "cpu_threads": 1,
        "lr": {"llama": 1e-2, "mamba": 1e-2, "bert": 1e-2, "xlnet": 1e-2},
        **pretrain_changes,
    }
    return params.model_copy(
        update={
            "model": type(params.model).model_validate(model_raw),
            "pretrain": with_changes(params.pretrain, **changes),
        }
    )


def _sections(params):
    return params.pretrain, params.model


def run(arch, packs, tmp_path, corpus="leaner", on_step=None, **changes):
    params = tiny_params(tmp_path / "runs", **changes)
    return pretrain(
        arch,
        corpus,
        params.pretrain,
        params.model,
        packed_root=packs / "packed",
        tokenizers_root=packs / "tokenizers",
        model_dir=tmp_path / "models" / f"{arch}-{corpus}",
        tracker=NullLogger(),
        on_step=on_step,
    )


@pytest.mark.parametrize("arch", ["llama", "mamba", "bert", "xlnet"])
def test_each_family_learns_and_reloads_with_auto_classes(arch, packs, tmp_path):
    import transformers

    result = run(arch, packs, tmp_path)
    losses = [row["loss"] for row in result.train_curve]
    assert [row["step"] for row in result.train_curve] == [5, 10, 15, 20]
    assert losses[-1] < losses[0] - 0.1, losses
    metrics = result.metrics
    assert metrics["tokens_seen"] == 20 * 8 * 32 and metrics["steps"] == 20
    assert 0 <= metrics["val/accuracy"] <= 1 and metrics["val/perplexity"] > 1
    assert 0 < metrics["params/non_embedding"] < metrics["params/total"]

    # Round trip: the saved folder reloads through AutoModel* and scores exactly the same validation loss.
    model_dir = tmp_path / "models" / f"{arch}-leaner"
    spec = arch_spec(arch)
    model = getattr(transformers, spec.auto_class).from_pretrained(model_dir)
    assert type(model).__name__ == spec.model_class
    tokenizer = load_tokenizer(model_dir)
    index = read_pack_index(packs / "packed" / f"leaner-{spec.family}")
    cfg = tiny_params(tmp_path).pretrain
    objective = make_objective(
        spec.objective,
        tokenizer,
        index.special_ids,
        mlm_probability=cfg.mlm_probability,
        plm_probability=cfg.plm_probability,
        max_span_length=cfg.max_span_length,
        block_size=index.block_size,
    )
    again = evaluate(
        model,
        objective,
        open_split(index, "validation"),
        batch_size=cfg.eval_batch_size,
        max_batches=cfg.eval_batches,
        seed=65,
        device=torch.device("cpu"),
        bf16=False,
    )
    assert again["val/loss"] == pytest.approx(metrics["val/loss"], rel=1e-5)


def test_same_seed_gives_identical_losses(packs, tmp_path):
    first = run("bert", packs, tmp_path / "a", max_steps=8)
    second = run("bert", packs, tmp_path / "b", max_steps=8)
    assert first.train_curve == second.train_curve
    assert first.metrics["val/loss"] == second.metrics["val/loss"]


class Killed(Exception):
    pass


@pytest.mark.parametrize("arch", ["bert", "llama"])
def test_kill_and_resume_matches_an_uninterrupted_run(arch, packs, tmp_path):
    changes = {"max_steps": 12, "save_every": 4, "eval_every": 4, "log_every": 3}
    whole = run(arch, packs, tmp_path / "whole", **changes)

    def kill_at_10(step):
        if step == 10:
            raise Killed

    with pytest.raises(Killed):
        run(arch, packs, tmp_path / "cut", on_step=kill_at_10, **changes)
    checkpoints = sorted(p.name for p in (tmp_path / "cut" / "runs" / f"{arch}-leaner-s65").iterdir())
    assert checkpoints == ["checkpoint-0000004", "checkpoint-0000008"]
    assert not (tmp_path / "cut" / "models" / f"{arch}-leaner").exists()  # nothing half-written
    resumed = run(arch, packs, tmp_path / "cut", **changes)
    assert resumed.train_curve == whole.train_curve
    assert resumed.val_curve == whole.val_curve
    assert resumed.metrics["val/loss"] == whole.metrics["val/loss"]
    assert resumed.metrics["tokens_seen"] == whole.metrics["tokens_seen"]


def test_resumes_only_the_same_run(packs, tmp_path):
    run("llama", packs, tmp_path, max_steps=4, save_every=2)
    executed = []
    run("llama", packs, tmp_path, max_steps=4, save_every=2, on_step=executed.append)
    assert executed == [3, 4]  # same params and data: continues after checkpoint-2
    executed.clear()
    # A different learning rate is a different run: it starts from scratch instead of resuming.
    run(
        "llama",
        packs,
        tmp_path,
        max_steps=4,
        save_every=2,
        on_step=executed.append,
        lr={"llama": 2e-3, "mamba": 1e-2, "bert": 1e-2, "xlnet": 1e-2},
    )
    assert executed == [1, 2, 3, 4]


def test_accumulation_matches_one_big_batch(packs, tmp_path):
    whole = run("llama", packs, tmp_path / "a", max_steps=3, micro_batch_size=8)
    accumulated = run("llama", packs, tmp_path / "b", max_steps=3, micro_batch_size=2)
    assert accumulated.metrics["val/loss"] == pytest.approx(whole.metrics["val/loss"], rel=1e-4)


def test_bad_inputs_are_named(packs, tmp_path):
    with pytest.raises(DataError, match="no pack index"):
        run("llama", packs, tmp_path, corpus="nosuch")
    broken = tmp_path / "broken"
    write_tiny_packs(broken, block_size=31, families=("xlnet",))
    with pytest.raises(DataError, match="even sequence length"):
        run("xlnet", broken, tmp_path)
    index = json.loads((broken / "packed" / "leaner-xlnet" / "index.json").read_text())
    index["num_blocks"]["train"] += 1
    (broken / "packed" / "leaner-xlnet" / "index.json").write_text(json.dumps(index))
    with pytest.raises(DataError, match=r"train\.bin: .* bytes, but index.json says"):
        run("xlnet", broken, tmp_path)


def test_the_pretraining_seed_drives_init_and_data_order(packs, tmp_path):
    first = run("llama", packs, tmp_path / "a", max_steps=4, seeds=[65, 66])
    other = pretrain(
        "llama",
        "leaner",
        *_sections(tiny_params(tmp_path / "b" / "runs", max_steps=4, seeds=[65, 66])),
        packed_root=packs / "packed",
        tokenizers_root=packs / "tokenizers",
        model_dir=tmp_path / "b" / "models" / "llama-leaner-s66",
        tracker=NullLogger(),
        seed=66,
    )
    assert first.train_curve != other.train_curve
    with pytest.raises(ConfigError, match=r"pretrain seed 7 is not in pretrain.seeds \[65, 66\]"):
        pretrain(
            "llama",
            "leaner",
            *_sections(tiny_params(tmp_path / "c", seeds=[65, 66])),
            packed_root=packs / "packed",
            tokenizers_root=packs / "tokenizers",
            model_dir=tmp_path / "c" / "m",
            tracker=NullLogger(),
            seed=7,
        )


def test_export_steps_are_loadable_models_of_that_step(packs, tmp_path):
    import transformers

    result = run("llama", packs, tmp_path, max_steps=8, eval_every=4, save_every=4, export_steps=[4])
    model_dir = tmp_path / "models" / "llama-leaner"
    export = model_dir / "step-4"
    assert (export / "config.json").is_file() and (export / "tokenizer.json").is_file()
    assert not (export / "export.json").exists()
    model = transformers.AutoModelForCausalLM.from_pretrained(export)
    index = read_pack_index(packs / "packed" / "leaner-causal")
    cfg = tiny_params(tmp_path).pretrain
    objective = make_objective(
        "clm",
        load_tokenizer(export),
        index.special_ids,
        mlm_probability=0.15,
        plm_probability=1 / 6,
        max_span_length=5,
        block_size=index.block_size,
    )
    scored = evaluate(
        model,
        objective,
        open_split(index, "validation"),
        batch_size=cfg.eval_batch_size,
        max_batches=cfg.eval_batches,
        seed=65,
        device=torch.device("cpu"),
        bf16=False,
    )
    at_step_4 = next(row for row in result.val_curve if row["step"] == 4)
    assert scored["val/loss"] == pytest.approx(at_step_4["loss"], rel=1e-5)
    assert scored["val/loss"] != pytest.approx(result.metrics["val/loss"], rel=1e-3)  # not the final model


def test_export_missing_after_resuming_past_it_is_an_error(packs, tmp_path):

    def kill_at_6(step):
        if step == 6:
            raise Killed

    with pytest.raises(Killed):
        run("llama", packs, tmp_path / "cut", max_steps=8, save_every=4, on_step=kill_at_6)
    # the checkpoint at step 4 came from a run without exports: resuming from it cannot produce step 2
    with pytest.raises(DataError, match="no export of step 2 from this run"):
        run("llama", packs, tmp_path / "cut", max_steps=8, save_every=4, export_steps=[2])


def test_data_that_cannot_fill_one_step_fails_before_training(packs, tmp_path):
    rows = read_pack_index(packs / "packed" / "leaner-causal").num_blocks["train"]
    steps = []
    with pytest.raises(
        DataError,
        match=rf"{rows} training rows of 32 tokens cannot fill one optimizer step of "
        rf"pretrain.batch_size = {rows + 2} sequences",
    ):
        run("llama", packs, tmp_path, batch_size=rows + 2, micro_batch_size=1, on_step=steps.append)
    assert steps == []

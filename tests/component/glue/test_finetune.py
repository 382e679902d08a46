"""GLUE components on tiny random models and a throwaway BPE (trained once per module; see
tests/fixtures/glue_models.py): pair separators, pooling in real models, skip logic, learning above chance."""

from __future__ import annotations

import json

import pytest
import torch

from tests.conftest import REPO_ROOT
from tests.fixtures.glue_models import FAMILIES, save_model, train_tokenizer, write_glue
from tinyhelen.core.config import with_changes
from tinyhelen.core.errors import BadRecordError, ConfigError
from tinyhelen.glue.data import encode_task, ensure_pair_separator, has_pair_separator, load_task
from tinyhelen.glue.finetune import Batcher, finetune_run, glue_model
from tinyhelen.glue.model import load_body_source, load_tokenizer
from tinyhelen.params import load_params


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("glue")
    tokenizers = {family: train_tokenizer(family) for family in set(FAMILIES.values())}
    models = {
        arch: save_model(root / "models", arch, "leaner", tokenizers[family]) for arch, family in FAMILIES.items()
    }
    return {"models": models, "glue": write_glue(root / "glue")}


@pytest.fixture(autouse=True)
def one_thread():
    # Tiny models run far faster on one thread, above all when other processes share the cores.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def cfg():
    return with_changes(
        load_params(REPO_ROOT / "params.yaml").glue, tasks=["sst2", "rte", "stsb", "mrpc"], max_steps=4, batch_size=8
    )


@pytest.mark.parametrize("arch", list(FAMILIES))
def test_pair_encoding_contains_the_separator(workspace, arch):
    tokenizer = load_tokenizer(workspace["models"][arch])
    added = ensure_pair_separator(tokenizer)
    assert added == (FAMILIES[arch] == "causal")  # the causal fixture has no pair template, like gpt-2K
    separator = tokenizer.sep_token or tokenizer.eos_token
    encoding = tokenizer("the cat ate a cake.", "a dog saw the book.")
    ids, sequence_ids = encoding["input_ids"], encoding.sequence_ids()
    last_a = max(i for i, s in enumerate(sequence_ids) if s == 0)
    assert ids[last_a + 1] == tokenizer.convert_tokens_to_ids(separator)
    assert has_pair_separator(tokenizer)
    # single sentences keep their framing and gain nothing
    single = tokenizer("the cat ate a cake.")["input_ids"]
    assert tokenizer.convert_tokens_to_ids(separator) not in single or FAMILIES[arch] != "causal"


def test_separator_added_into_an_existing_template():
    from tokenizers import processors

    tokenizer = train_tokenizer("bert")
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A", pair="[CLS] $A $B:1", special_tokens=[("[CLS]", cls)]
    )
    assert not has_pair_separator(tokenizer)
    assert ensure_pair_separator(tokenizer)
    assert tokenizer("a b", "c")["input_ids"] == [
        cls,
        *tokenizer("a b", add_special_tokens=False)["input_ids"],
        sep,
        *tokenizer("c", add_special_tokens=False)["input_ids"],
    ]


def test_no_separator_token_is_a_clear_error():
    tokenizer = train_tokenizer("causal")
    tokenizer.eos_token = None
    with pytest.raises(ConfigError, match="no sep or eos token"):
        ensure_pair_separator(tokenizer)


def test_missing_train_file_is_skipped_and_reported(workspace, cfg):
    assert "missing mrpc_train.jsonl" in load_task(workspace["glue"], "mrpc")
    assert "missing cola_train.jsonl" in load_task(workspace["glue"], "cola")
    metrics = glue_model(
        "bert-leaner",
        workspace["models"]["bert"],
        False,
        workspace["glue"],
        with_changes(cfg, tasks=["mrpc", "rte"], max_steps=2),
    ).metrics
    assert metrics["tasks"]["mrpc"]["status"] == "skipped"
    assert "mrpc_train.jsonl" in metrics["tasks"]["mrpc"]["reason"]
    assert metrics["tasks"]["rte"]["status"] == "done"
    assert metrics["average"]["tasks"] == 1


def test_bad_record_names_file_and_line(tmp_path, workspace):
    glue = write_glue(tmp_path / "glue")
    with (glue / "rte_validation.jsonl").open("a") as handle:
        handle.write(json.dumps({"sentence1": "a", "label": 0}) + "\n")
    with pytest.raises(BadRecordError, match=r"rte_validation.jsonl:17: rte record needs a text field 'sentence2'"):
        load_task(glue, "rte")


def _logits(model, tokenizer, texts, side):
    tokenizer.padding_side = side
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    model.eval()
    with torch.no_grad():
        return model(batch["input_ids"], batch["attention_mask"])


@pytest.mark.parametrize("arch", ["llama", "bert", "xlnet"])
def test_classifier_is_the_same_under_left_and_right_padding(workspace, arch):
    tokenizer = load_tokenizer(workspace["models"][arch])
    source = load_body_source(workspace["models"][arch], scratch=False)
    torch.manual_seed(0)
    model = source.build(num_labels=2, dropout=0.0)
    texts = ["the cat ate a cake.", "a dog saw the book and it was very good."]
    right, left = _logits(model, tokenizer, texts, "right"), _logits(model, tokenizer, texts, "left")
    assert torch.allclose(right, left, atol=1e-4), (right, left)


def test_scratch_body_is_random_and_pretrained_body_is_loaded(workspace):
    model_dir = workspace["models"]["llama"]
    pretrained, scratch = load_body_source(model_dir, False), load_body_source(model_dir, True)
    assert scratch.is_scratch and scratch.config.to_dict() == pretrained.config.to_dict()
    torch.manual_seed(3)
    loaded = pretrained.build(2, 0.1).body.state_dict()
    torch.manual_seed(3)
    fresh = scratch.build(2, 0.1).body.state_dict()
    key = "embed_tokens.weight"
    assert torch.equal(loaded[key], pretrained.state[key]) and not torch.equal(fresh[key], loaded[key])


def test_missing_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="no config.json"):
        load_body_source(tmp_path, scratch=False)


def test_tiny_model_learns_above_chance(workspace, cfg):
    model_dir = workspace["models"]["llama"]
    tokenizer = load_tokenizer(model_dir)
    encoded = encode_task(tokenizer, load_task(workspace["glue"], "sst2"), 64)
    run = finetune_run(
        load_body_source(model_dir, False),
        encoded,
        Batcher(tokenizer, False),
        3e-3,
        1,
        with_changes(cfg, max_steps=0, evals_per_epoch=2),
        torch.device("cpu"),
    )
    assert run.steps == 3 * 6 and run.curve[-1]["step"] == 18  # 3 epochs (params) of 48 / 8 steps
    assert run.test["sst2"]["accuracy"] >= 0.9  # chance is 0.5 on the balanced fixture


def test_same_seed_same_result(workspace, cfg):
    model_dir = workspace["models"]["bert"]
    tokenizer = load_tokenizer(model_dir)
    encoded = encode_task(tokenizer, load_task(workspace["glue"], "stsb"), 64)
    runs = [
        finetune_run(
            load_body_source(model_dir, True),
            encoded,
            Batcher(tokenizer, True),
            1e-3,
            7,
            with_changes(cfg, max_steps=2),
            torch.device("cpu"),
        )
        for _ in range(2)
    ]
    assert runs[0].curve == runs[1].curve and runs[0].test == runs[1].test


def test_early_stopping(workspace, cfg):
    model_dir = workspace["models"]["xlnet"]
    tokenizer = load_tokenizer(model_dir)
    encoded = encode_task(tokenizer, load_task(workspace["glue"], "rte"), 64)
    run = finetune_run(
        load_body_source(model_dir, False),
        encoded,
        Batcher(tokenizer, False),
        1e-9,
        1,
        with_changes(cfg, max_steps=0, evals_per_epoch=6, early_stopping_patience=2),
        torch.device("cpu"),
    )
    # a vanishing LR never improves on the first evaluation, so the run stops after 1 + 2 evaluations
    assert run.stopped_early and len(run.curve) == 3 and run.best_step == run.curve[0]["step"]


@pytest.mark.shared_data
def test_shared_release_tasks_without_train_are_skipped(shared_data):
    glue = shared_data / "leaner" / "glue"
    for task in ("sst2", "qqp", "mnli", "qnli"):
        assert load_task(glue, task, 10, 10) == f"missing {task}_train.jsonl in {glue}"
    for task in ("cola", "mrpc", "stsb", "rte", "wnli"):
        data = load_task(glue, task, 10, 10)
        assert len(data.train) == 10 and len(data.columns[task]["validation"]) == 10


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_finetune_on_cuda_in_bf16(workspace, cfg):
    result = glue_model(
        "llama-leaner",
        workspace["models"]["llama"],
        False,
        workspace["glue"],
        with_changes(cfg, device="cuda", precision="bf16", max_steps=10),
    )
    assert result.extra["device"] == "cuda" and result.metrics["tasks"]["sst2"]["status"] == "done"

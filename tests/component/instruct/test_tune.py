"""Instruction tuning on tiny models: labels, packing masks, exact resume, exports, the llm backend.

pytest tests/component/instruct/test_tune.py
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from tests.conftest import REPO_ROOT
from tests.fake_llm_server import FakeLLMServer
from tests.fixtures.glue_models import build_lm, save_model, train_tokenizer
from tests.fixtures.sections import instruct_data_sections
from tinyhelen.core.config import with_changes
from tinyhelen.core.errors import ConfigError, DataError
from tinyhelen.core.io import iter_records
from tinyhelen.core.tracking import NullLogger
from tinyhelen.instruct.data import build_instruct_data
from tinyhelen.instruct.template import load_template
from tinyhelen.instruct.tune import (
    PROMPT,
    RESPONSE,
    InstructObjective,
    encode_examples,
    layout_rows,
    start_dir,
    tune,
    without_cache,
)
from tinyhelen.pretrain.objectives import IGNORE_INDEX
from tinyhelen.tokens.shards import read_rows

TEMPLATE = load_template(REPO_ROOT / "prompts/instruct/template.yaml")
RECORDS = [
    {
        "id": f"r{i}",
        "instruction": f"Say what {s} made.",
        "input": "the cat" if i % 2 else "",
        "output": f"{s} made {o}.",
    }
    for i, (s, o) in enumerate(
        [
            ("the cat", "a cake"),
            ("a dog", "the book"),
            ("my friend", "a red ball"),
            ("the teacher", "some bread"),
            ("our team", "a boat"),
            ("her sister", "the game"),
            ("a small bird", "a long song"),
            ("the old man", "the house"),
        ]
    )
]


class Killed(Exception):
    pass


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer("causal")


def test_template_file_is_checked(tmp_path):
    assert TEMPLATE.prompt_text("Do it.", "") == "### TASK INPUT:\nDo it.\n\n### RESPONSE:\n"
    assert TEMPLATE.prompt_text("Do {it}.", "x") == "### TASK INPUT:\nDo {it}.\nx\n\n### RESPONSE:\n"
    bad = tmp_path / "t.yaml"
    bad.write_text('prompt: "{instruction}"\ninput: "{input}"\nresponse: "{output}"\n')
    with pytest.raises(ConfigError, match="input_block"):
        load_template(bad)
    bad.write_text('prompt: "{instruction}{input_block}"\nresponse: "{output} {extra}"\n')
    with pytest.raises(ConfigError, match="missing key"):
        load_template(bad)


def rows_for(tokenizer, packing, block_size=160):
    examples = encode_examples(RECORDS, TEMPLATE, tokenizer)
    rows, stats = layout_rows(examples, block_size, tokenizer.pad_token_id, packing)
    return examples, rows, stats


@pytest.mark.parametrize("packing", [True, False])
def test_labels_follow_loss_on(tokenizer, packing):
    examples, rows, stats = rows_for(tokenizer, packing)
    assert stats["examples"] == len(RECORDS) and stats["truncated"] == 0
    assert stats["rows"] < len(RECORDS) if packing else stats["rows"] == len(RECORDS)
    data = read_rows(rows, torch.arange(len(rows)).numpy())
    for loss_on in ("all", "response"):
        batch = InstructObjective("clm", tokenizer.pad_token_id, (), packing=packing, loss_on=loss_on).make_batch(data)
        role = data[:, 2, : batch["input_ids"].shape[1]]
        labels, ids = batch["labels"], batch["input_ids"]
        counted = labels.ne(IGNORE_INDEX)
        if loss_on == "response":
            assert counted.eq(role.eq(RESPONSE)).all()  # zero weight on every prompt and padding token
            assert int(counted.sum()) == sum(len(r) for _, r in examples)
        else:
            starts = int((data[:, 1].eq(0) & data[:, 2].ne(0)).sum())
            assert starts == len(RECORDS)
            assert int(counted.sum()) == sum(len(p) + len(r) for p, r in examples) - len(RECORDS)
            assert not counted[role.eq(0)].any() and counted[role.eq(PROMPT)].any()
        assert labels[counted].eq(ids[counted]).all()
        assert ("position_ids" in batch) == packing and ("attention_mask" in batch) != packing
    # every example's tokens are prompt + response + end-of-text, in order
    first = data[0, 0][data[0, 2].ne(0)][: len(examples[0][0]) + len(examples[0][1])].tolist()
    assert first == examples[0][0] + examples[0][1] and first[-1] == tokenizer.eos_token_id


def test_packed_examples_do_not_attend_to_each_other(tokenizer):
    """Each example's logits inside a packed row equal its logits alone in a row."""
    model = without_cache(build_lm("llama", tokenizer)).eval()
    examples, packed, _ = rows_for(tokenizer, True)
    _, single, _ = rows_for(tokenizer, False)
    objective = InstructObjective("clm", tokenizer.pad_token_id, (), packing=True)
    plain = InstructObjective("clm", tokenizer.pad_token_id, (), packing=False)
    with torch.no_grad():
        batch = objective.make_batch(read_rows(packed, [0]))
        logits = model(**batch).logits[0]
        positions = batch["position_ids"][0]
        starts = [i for i in range(len(positions)) if positions[i] == 0]
        assert len(starts) >= 3  # at least two examples and the padding tail share the row
        for number, start in enumerate(starts[:-1] if int(read_rows(packed, [0])[0, 2, -1]) == 0 else starts):
            alone = plain.make_batch(read_rows(single, [number]))
            expected = model(**alone).logits[0]
            length = len(examples[number][0]) + len(examples[number][1])
            torch.testing.assert_close(logits[start : start + length], expected[:length], atol=1e-5, rtol=1e-4)
        # with the cache on, transformers ignores the restarting positions and the examples see each other
        leaky = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=True).logits[0]
        assert not torch.allclose(leaky[starts[1] : starts[1] + 3], logits[starts[1] : starts[1] + 3], atol=1e-4)


def write_start(models_root: Path, tokenizer, corpus="leaner", seed=65) -> Path:
    out = save_model(models_root, "llama", corpus, tokenizer)
    target = models_root / f"llama-{corpus}-s{seed}"
    shutil.rmtree(target, ignore_errors=True)
    return out.rename(target)


def write_data(root: Path, variant="leaner") -> Path:
    for split, records in (("train", RECORDS[:6]), ("validation", RECORDS[6:]), ("test", RECORDS[6:])):
        (root / variant).mkdir(parents=True, exist_ok=True)
        (root / variant / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return root


def tune_params(params, run_dir: Path, **changes):
    cfg = with_changes(
        params.instruct,
        **{
            "max_steps": 12,
            "batch_size": 4,
            "micro_batch_size": 2,
            "block_size": 160,
            "eval_every": 2,
            "export_every": 4,
            "save_every": 4,
            "log_every": 2,
            "run_dir": str(run_dir),
            **changes,
        },
    )
    pretrain = with_changes(params.pretrain, device="cpu", cpu_threads=1)
    return params.model_copy(update={"instruct": cfg, "pretrain": pretrain})


def tune_sections(params):
    return params.instruct, params.pretrain, params.seed


def run(params, tmp_path, name, on_step=None, **changes):
    return tune(
        "llama",
        "leaner",
        "leaner",
        *tune_sections(tune_params(params, tmp_path / name / "runs", **changes)),
        models_root=tmp_path / "models",
        data_root=tmp_path / "data",
        out_dir=tmp_path / name / "model",
        tracker=NullLogger(),
        on_step=on_step,
    )


def test_kill_and_resume_matches_an_uninterrupted_run(params, tokenizer, tmp_path):
    loss_on = "response"  # the default, "all", runs in the stage test
    write_start(tmp_path / "models", tokenizer)
    write_data(tmp_path / "data")
    whole = run(params, tmp_path, "whole", loss_on=loss_on)

    def kill_at_10(step):
        if step == 10:
            raise Killed

    with pytest.raises(Killed):
        run(params, tmp_path, "cut", on_step=kill_at_10, loss_on=loss_on)
    assert not (tmp_path / "cut" / "model").exists()
    resumed = run(params, tmp_path, "cut", loss_on=loss_on)
    assert resumed.train_curve == whole.train_curve and resumed.val_curve == whole.val_curve
    assert resumed.metrics == whole.metrics
    assert list(resumed.metrics["checkpoints"]) == ["4", "8", "12"]
    assert whole.metrics["val/loss"] < whole.val_curve[0]["loss"]  # it learns
    from transformers import AutoModelForCausalLM, AutoTokenizer

    for name in ("whole", "cut"):
        folder = tmp_path / name / "model"
        assert sorted(p.name for p in folder.glob("step-*")) == ["step-12", "step-4", "step-8"]
        for step in ("step-4", "step-8"):  # exported before the kill, reloaded as they were
            a = AutoModelForCausalLM.from_pretrained(tmp_path / "whole" / "model" / step)
            b = AutoModelForCausalLM.from_pretrained(folder / step)
            assert all(
                torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=False)
            )
        AutoTokenizer.from_pretrained(folder / "step-4")
    final = AutoModelForCausalLM.from_pretrained(tmp_path / "cut" / "model")
    last = AutoModelForCausalLM.from_pretrained(tmp_path / "cut" / "model" / "step-12")
    assert all(torch.equal(x, y) for x, y in zip(final.state_dict().values(), last.state_dict().values(), strict=False))


def test_start_weights_come_from_the_grid(params, tokenizer, tmp_path):
    cfg = with_changes(params.instruct, pretrain_step=100)
    assert start_dir(tmp_path, "llama", "ori", cfg) == tmp_path / "llama-ori-s65" / "step-100"
    assert start_dir(tmp_path, "llama", "ori", params.instruct) == tmp_path / "llama-ori-s65"
    write_data(tmp_path / "data")
    with pytest.raises(DataError, match="llama-leaner-s65: no pretrained model"):
        run(params, tmp_path, "none")
    with pytest.raises(ConfigError, match="mamba"):
        tune(
            "mamba",
            "leaner",
            "leaner",
            *tune_sections(params),
            models_root=tmp_path,
            data_root=tmp_path / "data",
            out_dir=tmp_path / "x",
            tracker=NullLogger(),
        )


def test_instruct_data_llm_backend_against_the_fake_endpoint(params, tmp_path, monkeypatch):
    records = [
        {
            "instruction": f"Describe picture number {i} for a child.",
            "input": "",
            "output": f"Picture {i} shows a big red house on a hill.",
        }
        for i in range(6)
    ]
    records.append({"instruction": "Repeat the prompt FAULT:echo", "input": "", "output": "No."})
    source = tmp_path / "alpaca.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records))
    words = tmp_path / "words.txt"
    words.write_text("a\nthe\nbig\nred\nhouse\n")
    with FakeLLMServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("TINYHELEN_LLM_CACHE", str(tmp_path / "cache.sqlite"))
        cfg = with_changes(
            params.instruct_data, source=str(source), backend="llm", validation_fraction=0.2, test_fraction=0.2
        )
        llm = with_changes(params.llm, max_attempts=2, backoff_base_s=0.01, backoff_max_s=0.02)
        settings = params.model_copy(update={"instruct_data": cfg, "llm": llm})
        result = build_instruct_data(
            cfg,
            tmp_path / "out",
            **instruct_data_sections(settings),
            release_dir=tmp_path / "none",
            word_list=words,
        )
    assert result.metrics["kept"] == 6 and result.metrics["reject_reasons"] == {"echoed_prompt": 1}
    for split in ("train", "validation", "test"):
        ori = [r for _, r in iter_records(tmp_path / "out" / "ori" / f"{split}.jsonl")]
        lean = [r for _, r in iter_records(tmp_path / "out" / "leaner" / f"{split}.jsonl")]
        assert [r["id"] for r in ori] == [r["id"] for r in lean] and ori
        assert all(a["output"] != b["output"] for a, b in zip(ori, lean, strict=False))

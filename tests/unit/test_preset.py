"""Presets: every key exists in params.yaml, the merged params validate, and the -S flags say the same."""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import REPO_ROOT
from tinyhelen.core.errors import ConfigError
from tinyhelen.params import validate_params
from tinyhelen.preset import apply_preset, dvc_flags, read_preset

PARAMS = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())


def without_other_branches(preset: dict) -> dict:
    # `pack` is the pack stage's section; it is only checked once that stage is in params.yaml.
    return {k: v for k, v in preset.items() if k in PARAMS}


@pytest.mark.parametrize("name", ["paper.yaml", "llama-1m.yaml", "curriculum-paper.yaml"])
def test_presets_apply_and_validate(name):
    preset = without_other_branches(read_preset(REPO_ROOT / "presets" / name))
    validate_params(apply_preset(PARAMS, preset, name))


# The paper's settings, from the authors' scripts (spec §1.1, §3, §5.3, §5.5, §5.6, §6.2): key -> value read
# from the validated params (callables derive values the params express per arch, corpus or family).
PAPER = {
    # spec §5.6: --corpus_total_token_num_choices 100M (= 10M/ + 100M/), natural-language set splits only
    "data.budget": "100M",
    "compose.genres": ["web", "book", "wiki", "textbook", "conversation"],
    "compose.budget_tokens": 0,  # the release folders are the paper's sample: all of it
    "compose.budget_unit": "gpt2_pieces",  # spec §1.2, §2.7: the sampler counted GPT-2 tokens
    "compose.paired_only": False,
    # spec §3: one 2,000-entry BPE, learnt on leaner text, for every run
    "tokenizer.vocab_size": 2000,
    "tokenizer.variant": "leaner",
    # spec §5.2, §5.3, §5.6: block 1024 (run_clm, run_mlm); run_plm max_seq_length 512
    "block_size.causal": 1024,
    "block_size.bert": 1024,
    "block_size.xlnet": 512,
    # spec §5.6: 512 sequences per step, 10k steps, warmup 100, eval/log every 100, save every 500, seed 65
    "pretrain.batch_size": 512,
    "pretrain.max_steps": 10000,
    "pretrain.warmup_steps": 100,
    "pretrain.eval_every": 100,
    "pretrain.log_every": 100,
    "pretrain.save_every": 500,
    "seed": 65,
    "pretrain.seeds": [65],
    # spec §5.6: the evaluated checkpoints llama-5e-3-1000, mamba-5e-3-1000, bert-1e-3-10000,
    # bert-ori-1e-3-10000, xlnet-5e-4-10000, xlnet-ori-1e-3-10000
    "lr.llama.leaner": 5e-3,
    "lr.llama.ori": 5e-3,
    "lr.mamba.leaner": 5e-3,
    "lr.mamba.ori": 5e-3,
    "lr.bert.leaner": 1e-3,
    "lr.bert.ori": 1e-3,
    "lr.xlnet.leaner": 5e-4,
    "lr.xlnet.ori": 1e-3,
    "pretrain.export_steps": [1000],
    "glue.step.llama": 1000,
    "glue.step.mamba": 1000,
    "glue.step.bert": None,
    "glue.step.xlnet": None,
    # spec §5.5: stock HF optimiser defaults
    "pretrain.lr_schedule": "linear",
    "pretrain.weight_decay": 0.0,
    "pretrain.adam_beta1": 0.9,
    "pretrain.adam_beta2": 0.999,
    "pretrain.adam_epsilon": 1e-8,
    "pretrain.grad_clip": 1.0,
    # spec §5.3: MLM 15%, PLM 1/6 with spans up to 5
    "pretrain.mlm_probability": 0.15,
    "pretrain.plm_probability": 1 / 6,
    "pretrain.max_span_length": 5,
    # spec §6.2: 8 tasks (no wnli), 7 LRs x 5 seeds, length 256, batch 256, the per-task epochs, released files
    "glue.tasks": ["cola", "sst2", "mrpc", "qqp", "stsb", "mnli", "qnli", "rte"],
    "glue.learning_rates": [5e-6, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3],
    "glue.seeds": [1, 53, 65, 256, 9264],
    "glue.max_length": 256,
    "glue.batch_size": 256,
    "glue.max_steps": 0,
    "glue.evals_per_epoch": 1,
    "glue.epochs": {
        "cola": 30,
        "sst2": 3,
        "mrpc": 30,
        "qqp": 3,
        "stsb": 30,
        "mnli": 3,
        "qnli": 3,
        "rte": 50,
        "wnli": 50,
    },
    "glue.source": "release",
}


def _value(params, key: str):
    head, *rest = key.split(".")
    if head == "block_size":
        return params.pack.block_size_for(rest[0])
    if head == "lr":
        return params.pretrain.lr.value(*rest)
    if key.startswith("glue.step."):
        return params.glue.step_for(rest[-1])
    node = params
    for part in key.split("."):
        node = getattr(node, part)
    return node


def test_paper_preset_holds_the_paper_settings():
    params = validate_params(apply_preset(PARAMS, read_preset(REPO_ROOT / "presets" / "paper.yaml")))
    wrong = {key: (_value(params, key), value) for key, value in PAPER.items() if _value(params, key) != value}
    assert not wrong, wrong
    assert params.data.source.startswith("hf:")  # the preset names its data source


def test_preset_cli_prints_the_flags(capsys):
    from tinyhelen.preset import main

    main([str(REPO_ROOT / "presets" / "paper.yaml"), "--params", str(REPO_ROOT / "params.yaml")])
    printed = capsys.readouterr().out
    for flag in (
        '-S pack.block_size={"causal":1024,"bert":1024,"xlnet":512}',
        "-S data.budget=100M",
        "-S pretrain.lr.xlnet.ori=0.001",
        "-S pretrain.plm_probability=1/6",
        "-S pretrain.export_steps=[1000]",
        '-S glue.step={"llama":1000,"mamba":1000,"bert":final,"xlnet":final}',
    ):
        assert flag in printed, flag


def test_preset_flags_survive_command_substitution(tmp_path):
    """`dvc exp run $(python -m tinyhelen.preset ...)`: bash splits the output at whitespace and removes no
    quotes; every word must still be a whole flag whose value YAML reads back as the preset's."""
    import shutil
    import subprocess
    import sys

    if shutil.which("bash") is None:
        pytest.skip("needs bash")
    preset = REPO_ROOT / "presets" / "cpu-study.yaml"
    script = f'for word in $({sys.executable} -m tinyhelen.preset {preset}); do printf "%s\\n" "$word"; done'
    words = subprocess.run(
        ["bash", "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert words[0::2] == ["-S"] * (len(words) // 2)
    seen = {key: yaml.safe_load(value) for key, value in (w.split("=", 1) for w in words[1::2])}
    assert seen["data.genres"] == ["web", "book", "wiki", "textbook", "conversation"]
    assert seen["pretrain.seeds"] == [65, 66, 67]
    assert seen["model.llama.hidden_size"] == 128 and seen["glue.learning_rates"] == [1.0e-3]


def test_a_value_with_spaces_is_printed_shell_quoted(tmp_path, capsys):
    from tinyhelen.preset import main

    preset = tmp_path / "title.yaml"
    preset.write_text("report: {title: My two words}\n")
    main([str(preset), "--params", str(REPO_ROOT / "params.yaml")])
    captured = capsys.readouterr()
    assert "-S 'report.title=My two words'" in captured.out and "eval" in captured.err


def test_flags_round_trip_through_yaml_like_dvc():
    preset = without_other_branches(read_preset(REPO_ROOT / "presets" / "paper.yaml"))
    flags = dvc_flags(preset, PARAMS)
    assert flags[0] == "-S" and "pretrain.lr.llama=0.005" in flags
    as_dvc = {}
    for flag in flags[1::2]:
        key, value = flag.split("=", 1)
        node = as_dvc
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    assert apply_preset(PARAMS, as_dvc) == apply_preset(PARAMS, preset)


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match="my.yaml: key 'pretrain.nosuch' is not in params.yaml"):
        apply_preset(PARAMS, {"pretrain": {"nosuch": 1}}, "my.yaml")

"""Hugging Face model cards (`README.md`) for every exported model folder, ready for `push_to_hub` as they are.

    write_model_card("models/llama-leaner-s65", arch="llama", corpus="leaner", data_source="sample",
                     tokens_seen=16384, metrics={"val/loss": 5.91}, params={"pretrain": {...}},
                     changed={"pretrain.max_steps": [16, 32]}, exp_name="bushy-lamb")

The card's YAML metadata (huggingface_hub's `ModelCardData`): `library_name: transformers`, the pipeline tag of
the architecture (`text-generation`, `fill-mask`), the datasets, tags and the data's licence. Its body: the
training corpus and tokens seen, the architecture, its config and parameter counts (read from the saved
`config.json` and safetensors headers, so any folder can get a card without loading the model), the params
that made it (the DVC experiment name and the params that differ from the experiment's baseline), the final
metrics (validation loss; GLUE, probe and Leaner-Eval scores when a caller has them) and a loading snippet.

Cards inside DVC outputs are deterministic: no dates, git revisions, host names or timings, floats rounded.
Used by the pretrain stage (`models/<name>/README.md`); exported steps (`models/<name>/step-<N>/`) and
instruction-tuned models (`models/instruct/<name>/`) call the same function with their own `title`/`notes`.
"""

from __future__ import annotations

import json
import logging
import math
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tinyhelen.core.config import flatten, to_plain
from tinyhelen.core.io import atomic_open
from tinyhelen.pretrain.config import ARCH_REGISTRY
from tinyhelen.pretrain.models import _EMBEDDING_MARKERS

log = logging.getLogger(__name__)

CARD_NAME = "README.md"
DATA_LICENSE = "mit"  # the TinyHelen release and the bundled sample are MIT-licensed
HUB_DATASET = "EmpathYang/TinyHelen"
PIPELINE_TAGS = {
    "llama": "text-generation",
    "mamba": "text-generation",
    "xlnet": "text-generation",
    "bert": "fill-mask",
}
OBJECTIVES = {
    "clm": "causal language modelling",
    "mlm": "masked language modelling (15%, 80/10/10)",
    "plm": "permutation language modelling (span masks, 1/6 of the context)",
}
_DIGITS = 4


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, _DIGITS) if math.isfinite(value) else None
    return value


def parameter_counts(model_dir: str | Path) -> dict[str, int]:
    """Total and non-embedding parameters from the safetensors headers (no weights are read)."""
    from safetensors import safe_open

    total = non_embedding = 0
    for path in sorted(Path(model_dir).glob("*.safetensors")):
        with safe_open(str(path), framework="pt") as handle:
            for name in handle.keys():  # noqa: SIM118 (a safetensors handle, not a dict)
                count = math.prod(handle.get_slice(name).get_shape())
                total += count
                if not any(marker in name for marker in _EMBEDDING_MARKERS):
                    non_embedding += count
    return {"total": total, "non_embedding": non_embedding}


def changed_params(
    params_file: str | Path, baseline_rev: str | None, sections: list[str] | None = None, cwd: str | Path = "."
) -> dict[str, list[Any]]:
    """`key -> [baseline value, value]` for every param that differs from `params_file` at `baseline_rev`
    (HEAD when None), restricted to `sections` (dotted prefixes, e.g. `pretrain`, `model.llama`).

    A missing git checkout or file gives {} (with a log line): the card then lists no changes.
    """
    rev = baseline_rev or "HEAD"
    try:
        shown = subprocess.run(
            ["git", "show", f"{rev}:{Path(params_file).as_posix()}"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        log.info("no baseline params to compare with: %s", error)
        return {}
    if shown.returncode != 0:
        log.info("no baseline params to compare with at %s: %s", rev, shown.stderr.strip())
        return {}
    before = flatten(yaml.safe_load(shown.stdout) or {})
    after = flatten(yaml.safe_load(Path(cwd, params_file).read_text()) or {})
    keep = (lambda key: any(key == s or key.startswith(f"{s}.") for s in sections)) if sections else (lambda key: True)
    return {
        key: [before.get(key), after.get(key)]
        for key in sorted(set(before) | set(after))
        if keep(key) and before.get(key) != after.get(key)
    }


def _table(rows: list[tuple[str, Any]], header: tuple[str, str]) -> str:
    lines = [f"| {header[0]} | {header[1]} |", "|---|---|"]
    lines += [f"| `{key}` | {_round(value)} |" for key, value in rows]
    return "\n".join(lines)


def _snippet(arch: str, path: str) -> str:
    auto = ARCH_REGISTRY[arch].auto_class
    if arch == "bert":
        use = 'fill = pipeline("fill-mask", model=path)\nprint(fill("The little dog [MASK] in the garden."))'
    elif arch == "xlnet":
        use = (
            "# XLNet does not extend segment ids while generating: encode without them and without the\n"
            "# <sep> <cls> that ends a single text\n"
            'enc = tokenizer("The little dog", add_special_tokens=False, return_token_type_ids=False,\n'
            '                return_tensors="pt")\n'
            "print(tokenizer.decode(model.generate(**enc, max_new_tokens=20)[0]))"
        )
    else:
        use = (
            'generate = pipeline("text-generation", model=path)\n'
            'print(generate("The little dog", max_new_tokens=20)[0]["generated_text"])'
        )
    return (
        f"```python\nfrom transformers import AutoTokenizer, {auto}, pipeline\n\n"
        f'path = "{path}"  # this folder, or its Hub repo id once pushed\n'
        f"tokenizer = AutoTokenizer.from_pretrained(path)\nmodel = {auto}.from_pretrained(path)\n"
        f"{use}\n```"
    )


def render_model_card(
    model_dir: str | Path,
    *,
    arch: str,
    corpus: str,
    data_source: str,
    tokens_seen: int | None,
    metrics: Mapping[str, Any],
    scores: Mapping[str, Mapping[str, Any]] | None = None,
    params: Mapping[str, Any] | None = None,
    changed: Mapping[str, list[Any]] | None = None,
    exp_name: str | None = None,
    title: str | None = None,
    notes: str | None = None,
    tags: list[str] | None = None,
    base_model: str | None = None,
) -> str:
    """The card's text.

    Args:
        model_dir: a saved model folder (config.json, *.safetensors, tokenizer).
        arch: llama | mamba | bert | xlnet.
        corpus: the pre-training corpus (leaner | ori).
        data_source: params `data.source` (`sample`, a local release folder or `hf:...`).
        tokens_seen: training tokens the weights saw.
        metrics: final metrics (e.g. `val/loss`, `val/perplexity`); floats rounded to 4 digits.
        scores: further score tables by heading (`GLUE`, `Zorro probe`, `Leaner-Eval`), when they exist.
        params: the params sections that shaped the model (listed in a collapsed table).
        changed: `changed_params(...)`: params that differ from the experiment's baseline.
        exp_name: the DVC experiment's name (DVC_EXP_NAME), if any.
        title: the card's heading (default: the folder's name), e.g. `llama-leaner-s65 step 800`.
        notes: a paragraph under the heading (e.g. "an intermediate checkpoint", "instruction-tuned on ...").
        tags: extra Hub tags.
        base_model: the Hub id or folder it was trained from (instruction tuning, a branched run).
    """
    from huggingface_hub import ModelCardData

    model_dir = Path(model_dir)
    spec = ARCH_REGISTRY[arch]
    config = json.loads((model_dir / "config.json").read_text())
    counts = parameter_counts(model_dir)
    name = title or model_dir.name
    hub_data = data_source != "sample"
    card_data = ModelCardData(
        model_name=name,
        library_name="transformers",
        pipeline_tag=PIPELINE_TAGS[arch],
        license=DATA_LICENSE,
        language=["en"],
        datasets=[HUB_DATASET] if hub_data else None,
        base_model=base_model,
        tags=["tinyhelen", arch, config.get("model_type", arch), f"corpus-{corpus}", spec.objective, *(tags or [])],
    )
    source = {"sample": "the bundled sample (`data/sample`, written for this project, MIT)"}.get(
        data_source, f"`{data_source}` (TinyHelen, {HUB_DATASET}, MIT)"
    )
    lines = [
        f"# {name}",
        "",
        (
            f"A {config.get('architectures', [spec.model_class])[0]} ({arch}) pre-trained by tinyhelen (a "
            f're-implementation of "TinyHelen\'s First Curriculum", arXiv 2501.00522) with '
            f"{OBJECTIVES[spec.objective]} on the **{corpus}** corpus."
        ),
        "",
    ]
    if notes:
        lines += [notes, ""]
    lines += [
        "## Training data",
        "",
        (
            f"- Corpus: `{corpus}` ({'simplified, leaner language' if corpus == 'leaner' else 'original text'})"
            f" from {source}."
        ),
        f"- Tokens seen: {tokens_seen:,}" if tokens_seen is not None else "- Tokens seen: not recorded",
        "",
        "## Model",
        "",
        (f"- Parameters: {counts['total']:,} in total, {counts['non_embedding']:,} without embeddings and LM head."),
        f"- Vocabulary: {config.get('vocab_size')} byte-level BPE entries.",
        "",
        "<details><summary>config.json (model dims)</summary>",
        "",
        "```json",
        json.dumps(
            {k: v for k, v in config.items() if k not in ("transformers_version", "dtype")}, indent=1, sort_keys=True
        ),
        "```",
        "</details>",
        "",
        "## How it was made",
        "",
    ]
    lines.append(
        f"- DVC experiment: `{exp_name}`"
        if exp_name
        else "- DVC experiment: none (a `dvc repro` of the committed params)"
    )
    if changed:
        lines += [
            "- Params changed from the experiment's baseline:",
            "",
            "| param | baseline | this model |",
            "|---|---|---|",
            *[f"| `{key}` | {_round(old)} | {_round(new)} |" for key, (old, new) in changed.items()],
        ]
    else:
        lines.append("- Params: the baseline's, unchanged.")
    if params:
        flat = sorted(flatten(to_plain(dict(params))).items())
        lines += [
            "",
            "<details><summary>Every param of the stage</summary>",
            "",
            _table(flat, ("param", "value")),
            "</details>",
        ]
    lines += ["", "## Results", "", _table(sorted(flatten(dict(metrics)).items()), ("metric", "value"))]
    for section, values in (scores or {}).items():
        lines += ["", f"### {section}", "", _table(sorted(flatten(dict(values)).items()), ("score", "value"))]
    lines += ["", "## Use", "", _snippet(arch, model_dir.as_posix()), ""]
    return f"---\n{card_data.to_yaml()}\n---\n\n" + "\n".join(lines)


def write_model_card(model_dir: str | Path, **card: Any) -> Path:
    """Write `<model_dir>/README.md`, a Hugging Face model card, atomically; `card`: the keyword arguments of
    `render_model_card`. Returns the card's path."""
    path = Path(model_dir) / CARD_NAME
    with atomic_open(path) as handle:
        handle.write(render_model_card(model_dir, **card))
    return path


def card_with_scores(
    model_dir: str | Path, scores: Mapping[str, Mapping[str, Any]], *, data_source: str, out_path: str | Path
) -> Path | None:
    """Re-render a pretrained folder's card (from its meta.json) with further score tables, to `out_path`.

    Later stages (GLUE, probes, Leaner-Eval) use it to log the model's final card as an artifact of their own
    run: the model folder itself is another stage's DVC output and stays as that stage wrote it.
    Returns None when the folder has no pretrain meta.json (e.g. a model from elsewhere).
    """
    meta_path = Path(model_dir) / "meta.json"
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    if meta.get("stage") != "pretrain" or meta.get("arch") not in ARCH_REGISTRY:
        return None
    metrics = meta.get("metrics") or {}
    text = render_model_card(
        model_dir,
        arch=meta["arch"],
        corpus=meta["corpus"],
        data_source=data_source,
        tokens_seen=metrics.get("tokens_seen"),
        scores=scores,
        params=meta.get("config"),
        metrics={
            k: metrics[k] for k in ("val/loss", "val/perplexity", "val/accuracy", "train/loss", "steps") if k in metrics
        },
    )
    out_path = Path(out_path)
    with atomic_open(out_path) as handle:
        handle.write(text)
    return out_path

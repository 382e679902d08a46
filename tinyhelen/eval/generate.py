"""Leaner-Eval answers of instruction-tuned causal models: batched, left-padded, KV-cached generation.

    questions = load_questions("data/raw/eval", ["all"])
    result = generate_model("models/instruct/llama-leaner-s65-leaner", questions, cfg, template)

Each question is rendered with the instruction template (`### TASK INPUT:\\n{question}\\n\\n### RESPONSE:\\n`,
the file `generate.template`, shared with the instruction tuning) and tokenised without special tokens, as
the tuning saw it. Prompts are sorted by length and generated `batch_size` at a time, padded on the LEFT with
an attention mask, so every prompt's last token sits at the end of the row and a batched answer equals the
one-at-a-time answer (the original padded on the right, spec §6.3). Greedy by default; with `do_sample`, each
batch samples from its own generator seed (seed, batch index), so a run is repeatable. Generation stops at
end-of-text or after `max_new_tokens`.

The answer is the text after the prompt, which ends with the response marker; if the model goes on to write
a new `### TASK INPUT:` block (it was tuned on packed examples), the answer ends there. Empty answers are kept
and flagged. Each record: `id` (the question hash), `question`, `split` (the similarity split, or null),
`sets`, `answer`, `tokens` (generated before end-of-text), `finish_reason` (`eos` | `length` | `next_prompt`),
`empty`.

Exported checkpoints (`<model>/step-<N>/`, HF folders) answer `checkpoint_sets` (the inner comparison).
`mean_token_losses` scores texts under a causal model (the judge-free reference perplexity).
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from tinyhelen.core.errors import ConfigError, DataError
from tinyhelen.core.io import iter_jsonl, sha256_file
from tinyhelen.eval.config import GenerateConfig
from tinyhelen.instruct.template import load_template as load_instruct_template

log = logging.getLogger(__name__)

SPLIT_SETS = ("split-0-7", "split-7-8", "split-8-9", "split-9-10")
NEXT_PROMPT = "### TASK INPUT:"
_STEP = re.compile(r"step-(\d+)")


@dataclass(frozen=True)
class Question:
    """One Leaner-Eval question with the sets it belongs to."""

    id: str
    question: str
    split: str | None
    sets: tuple[str, ...]


@dataclass(frozen=True)
class Generation:
    """One generated answer."""

    text: str
    tokens: int
    finish_reason: str


@dataclass
class ModelAnswers:
    """What `generate_model` returns: records for the final model and for each exported checkpoint."""

    final: list[dict[str, Any]]
    checkpoints: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    generated_tokens: int = 0


def load_template(path: str | Path) -> str:
    """The generation prompt of the instruction template (`tinyhelen.instruct.template`, the one file the tuning
    trained on) with a `{question}` placeholder: `### TASK INPUT:\n{question}\n\n### RESPONSE:\n`."""
    return load_instruct_template(path).prompt_text("{question}", "")


def render_prompt(template: str, question: str) -> str:
    return template.replace("{question}", question.strip())


def load_questions(eval_dir: str | Path, sets: Sequence[str], max_questions: int = 0) -> list[Question]:
    """The questions of `sets` (their union, in file order, `all` first), each with its split and sets.

    Reads the ingested `<eval_dir>/<set>.jsonl` files (`tinyhelen.core.release.normalise_question` records). The
    split of a question is the `split-*` file that holds it (null when those files are absent).

    Raises:
        DataError: a requested set file is missing or a question id has two different texts.
    """
    eval_dir = Path(eval_dir)
    membership: dict[str, list[str]] = {}
    texts: dict[str, str] = {}
    order: dict[str, list[str]] = {}
    for name in sorted({*sets, *SPLIT_SETS, "inner_comparison", "all"}, key=_set_order):
        path = eval_dir / f"{name}.jsonl"
        if not path.is_file():
            if name in sets:
                raise DataError(f"{path}: question set missing (generate.sets / checkpoint_sets name it)")
            continue
        ids = []
        for lineno, record in iter_jsonl(path):
            qid, text = record["id"], record["question"]
            if texts.setdefault(qid, text) != text:
                raise DataError(f"{path}:{lineno}: question {qid[:12]} differs from its text in another set")
            membership.setdefault(qid, []).append(name)
            ids.append(qid)
        order[name] = list(dict.fromkeys(ids))
    chosen: list[str] = []
    for name in sorted(sets, key=_set_order):
        chosen.extend(order[name][:max_questions] if max_questions else order[name])
    questions = []
    for qid in dict.fromkeys(chosen):
        names = membership[qid]
        split = next((name for name in SPLIT_SETS if name in names), None)
        questions.append(Question(qid, texts[qid], split, tuple(sorted(set(names), key=_set_order))))
    return questions


def _set_order(name: str) -> tuple[int, str]:
    return (0 if name == "all" else 1 if name == "inner_comparison" else 2, name)


def find_checkpoints(model_dir: str | Path) -> list[tuple[int, Path]]:
    """Exported checkpoints `<model_dir>/step-<N>/` (HF folders with a config.json), by step."""
    found = []
    for path in Path(model_dir).glob("step-*"):
        match = _STEP.fullmatch(path.name)
        if match and (path / "config.json").is_file():
            found.append((int(match.group(1)), path))
    return sorted(found)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("generate.device is cuda but no CUDA device is available")
    return torch.device(device)


def load_causal_model(model_dir: str | Path, device: torch.device) -> tuple[Any, Any]:
    """An HF causal LM folder's model (eval mode, fp32) and tokenizer; `DataError` if it is not one."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise DataError(f"{model_dir}: not a model folder (no config.json)")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).to(device).eval()
    return model, tokenizer


def _special_ids(tokenizer: Any) -> tuple[int, int]:
    eos = tokenizer.eos_token_id
    if eos is None:
        raise DataError("the tokenizer has no end-of-text token (eos_token)")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    return eos, pad


@torch.no_grad()
def generate_answers(model: Any, tokenizer: Any, prompts: Sequence[str], cfg: GenerateConfig) -> list[Generation]:
    """Answer every prompt (same order), `cfg.batch_size` at a time, left-padded, with the KV cache.

    Args:
        model: a causal LM in eval mode.
        tokenizer: its tokenizer (prompts are encoded without special tokens).
        prompts: rendered prompts.
        cfg: the generate section (max_new_tokens, batch_size, sampling).

    Returns:
        One `Generation` per prompt.
    """
    eos, pad = _special_ids(tokenizer)
    device = next(model.parameters()).device
    limit = getattr(model.config, "max_position_embeddings", None)
    encoded = [tokenizer(prompt, add_special_tokens=False)["input_ids"] for prompt in prompts]
    if limit:  # keep the end of an over-long prompt: the response marker must stay
        encoded = [ids[-max(1, limit - cfg.max_new_tokens) :] for ids in encoded]
    order = sorted(range(len(prompts)), key=lambda i: (len(encoded[i]), i))
    results: list[Generation | None] = [None] * len(prompts)
    for batch_index, start in enumerate(range(0, len(order), cfg.batch_size)):
        members = order[start : start + cfg.batch_size]
        width = max(len(encoded[i]) for i in members)
        input_ids = torch.tensor([[pad] * (width - len(encoded[i])) + encoded[i] for i in members], device=device)
        mask = torch.tensor([[0] * (width - len(encoded[i])) + [1] * len(encoded[i]) for i in members], device=device)
        options: dict[str, Any] = {"do_sample": cfg.do_sample}
        if cfg.do_sample:
            options.update(temperature=cfg.temperature, top_p=cfg.top_p, top_k=0)
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(cfg.seed * 1_000_003 + batch_index)
            output = model.generate(
                input_ids=input_ids,
                attention_mask=mask,
                max_new_tokens=cfg.max_new_tokens,
                eos_token_id=eos,
                pad_token_id=pad,
                use_cache=True,
                **options,
            )
        for row, index in enumerate(members):
            results[index] = _finish(tokenizer, encoded[index], output[row, width:].tolist(), eos, cfg)
    return results  # type: ignore[return-value]


def _finish(tokenizer: Any, prompt_ids: list[int], new_ids: list[int], eos: int, cfg: GenerateConfig) -> Generation:
    """The answer text (after the prompt, cut at end-of-text or a new task block) and its finish reason."""
    if eos in new_ids:
        new_ids, reason = new_ids[: new_ids.index(eos)], "eos"
    else:
        reason = "length" if len(new_ids) >= cfg.max_new_tokens else "eos"
    prefix = tokenizer.decode(prompt_ids, skip_special_tokens=True)
    full = tokenizer.decode(prompt_ids + new_ids, skip_special_tokens=True)
    text = full[len(prefix) :] if full.startswith(prefix) else tokenizer.decode(new_ids, skip_special_tokens=True)
    if NEXT_PROMPT in text:
        text, reason = text[: text.index(NEXT_PROMPT)], "next_prompt"
    return Generation(text.strip(), len(new_ids), reason)


def answer_questions(
    model: Any, tokenizer: Any, questions: Sequence[Question], template: str, cfg: GenerateConfig
) -> list[dict[str, Any]]:
    """The answer records of one model for `questions` (in their order)."""
    generations = generate_answers(model, tokenizer, [render_prompt(template, q.question) for q in questions], cfg)
    return [
        {
            "id": q.id,
            "question": q.question,
            "split": q.split,
            "sets": list(q.sets),
            "answer": g.text,
            "tokens": g.tokens,
            "finish_reason": g.finish_reason,
            "empty": not g.text,
        }
        for q, g in zip(questions, generations, strict=True)
    ]


def _model_inputs(model_dir: Path) -> dict[str, str]:
    return {
        str(path): sha256_file(path)
        for path in sorted(model_dir.iterdir())
        if path.is_file() and path.suffix in (".json", ".safetensors", ".bin")
    }


def generate_model(
    model_dir: str | Path,
    questions: Sequence[Question],
    cfg: GenerateConfig,
    template: str,
    checkpoint_questions: Sequence[Question] = (),
) -> ModelAnswers:
    """Answer `questions` with the final model and `checkpoint_questions` with each exported checkpoint.

    Args:
        model_dir: the tuned model's HF folder (checkpoints in `step-<N>/` beneath it).
        questions: what the final model answers.
        cfg: the generate section.
        template: the instruction template text.
        checkpoint_questions: what every checkpoint answers (empty: checkpoints are skipped).
    """
    model_dir = Path(model_dir)
    if cfg.cpu_threads:
        torch.set_num_threads(cfg.cpu_threads)
    device = resolve_device(cfg.device)
    model, tokenizer = load_causal_model(model_dir, device)
    result = ModelAnswers(
        final=answer_questions(model, tokenizer, questions, template, cfg), inputs=_model_inputs(model_dir)
    )
    log.info("%s: %d answers", model_dir, len(result.final))
    if checkpoint_questions:
        for step, path in find_checkpoints(model_dir):
            model, tokenizer = load_causal_model(path, device)
            result.checkpoints[step] = answer_questions(model, tokenizer, checkpoint_questions, template, cfg)
            result.inputs.update(_model_inputs(path))
            log.info("%s: %d answers", path, len(result.checkpoints[step]))
    result.generated_tokens = sum(r["tokens"] for r in result.final) + sum(
        r["tokens"] for records in result.checkpoints.values() for r in records
    )
    return result


def summarise_answers(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Headline numbers of one answer file (deterministic; rounded to 4 decimals)."""
    count = len(records)
    finish = Counter(r["finish_reason"] for r in records)
    return {
        "questions": count,
        "empty_rate": round(sum(r["empty"] for r in records) / count, 4) if count else 0.0,
        "mean_tokens": round(sum(r["tokens"] for r in records) / count, 4) if count else 0.0,
        "finish": {reason: finish[reason] for reason in sorted(finish)},
    }


@torch.no_grad()
def mean_token_losses(model: Any, tokenizer: Any, texts: Sequence[str], batch_size: int) -> list[tuple[float, int]]:
    """(summed next-token loss in nats, predicted tokens) of each text under a causal LM, in batches.

    A text is encoded with the tokenizer's own template (the pretraining framing, e.g. `A </s>`); its first
    token is not predicted. Empty texts give (0.0, 0).
    """
    _, pad = _special_ids(tokenizer)
    device = next(model.parameters()).device
    limit = getattr(model.config, "max_position_embeddings", None) or 1024
    encoded = [tokenizer(text)["input_ids"][:limit] if text.strip() else [] for text in texts]
    results: list[tuple[float, int]] = [(0.0, 0)] * len(texts)
    order = sorted((i for i in range(len(texts)) if len(encoded[i]) > 1), key=lambda i: (len(encoded[i]), i))
    for start in range(0, len(order), batch_size):
        members = order[start : start + batch_size]
        width = max(len(encoded[i]) for i in members)
        ids = torch.tensor([encoded[i] + [pad] * (width - len(encoded[i])) for i in members], device=device)
        mask = torch.tensor([[1] * len(encoded[i]) + [0] * (width - len(encoded[i])) for i in members], device=device)
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
        targets = ids[:, 1:]
        losses = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
        losses = losses * mask[:, 1:]
        for row, index in enumerate(members):
            results[index] = (float(losses[row].sum()), len(encoded[index]) - 1)
    return results


def perplexity(losses: Sequence[tuple[float, int]]) -> float | None:
    """exp(total loss / total tokens); None when there are no tokens."""
    tokens = sum(n for _, n in losses)
    return math.exp(sum(loss for loss, _ in losses) / tokens) if tokens else None

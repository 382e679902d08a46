"""The listwise LLM judge of Leaner-Eval answers (spec §6.4, §2.14, with the original's faults fixed).

    groups = build_groups("inner", questions, entries, answers, cfg.group_size)
    outcome = judge_groups(groups, client, cfg, load_judge_templates(cfg.prompts_dir))

A group is up to `group_size` answers (different models) to one question. Each group is shown in an order
shuffled by a generator seeded from (`shuffle_seed`, comparison, question, members), so the order is recorded,
repeatable and independent of resume state (the original's `random.shuffle` depended on both); answers are
labelled A, B, ... in that order, and the scores are mapped back to the models by the recorded permutation.
The judge replies one line per answer, `<label>: g c s` (integers 0-5). An empty answer is not shown to the
judge: it scores 0 on every axis by rule (the original told the judge to rate it worst).

A reply with missing, extra, duplicated or out-of-range scores (or an endpoint failure, or a cut-off reply)
is re-asked as a NEW request (the re-ask note is appended and the attempt number is part of the cache key) up to
`max_parse_retries` times; then every score of the group is a null with its reason, counted in the outputs.
Nothing ever exits (the original called `exit()` on the third bad reply). Requests go through
`tinyhelen.simplify.llm.CachedLLM`: cached (a re-run makes zero calls), concurrent, retried; temperature 0 and a seed by
default; each reply's `system_fingerprint` is recorded. With `reversed_pass`, every group is judged again in
the reversed order; `position_bias` is the mean absolute change of the scores between the passes.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import string
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinyhelen.core.config import with_changes
from tinyhelen.core.errors import ConfigError
from tinyhelen.eval.config import JudgeConfig
from tinyhelen.simplify.config import LLMConfig
from tinyhelen.simplify.llm import Answer

log = logging.getLogger(__name__)

AXES = ("grammar", "coherence", "specificity")
LABELS = string.ascii_uppercase
TEMPLATE_PLACEHOLDERS = {
    "listwise": ("question", "answers", "num_answers", "labels"),
    "reask": ("reason", "num_answers", "labels"),
}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_LINE = re.compile(r"^[\s#*>\-]*\(?([A-Z])\)?\s*[.:)\]]\s*(.*)$")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


class JudgeParseError(ValueError):
    """A judge reply that cannot be read; `reason` is counted."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class Entry:
    """One answerer: a tuned model (`step` None) or one of its exported checkpoints."""

    recipe: str
    step: int | None = None

    @property
    def name(self) -> str:
        return self.recipe if self.step is None else f"{self.recipe}@step-{self.step}"


@dataclass(frozen=True)
class Group:
    """Answers of several entries to one question, judged in one call."""

    comparison: str
    question_id: str
    question: str
    split: str | None
    members: tuple[tuple[str, str], ...]
    """(entry name, answer) in canonical (list) order."""


@dataclass
class JudgeOutcome:
    """Scores, call records and accounting of a judged set of groups."""

    scores: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    """HTTP requests sent this run (0 on a fully cached re-run)."""
    cache_hits: int = 0
    input_tokens: int = 0
    """Tokens of every reply used (cached or not): the cost of the judgement."""
    output_tokens: int = 0
    failures: Counter = field(default_factory=Counter)
    """Unreadable replies and endpoint failures by reason (each one led to a re-ask or a null)."""
    nulls: int = 0
    fingerprints: Counter = field(default_factory=Counter)

    def add(self, other: JudgeOutcome) -> None:
        self.scores += other.scores
        self.calls += other.calls
        for name in ("requests", "cache_hits", "input_tokens", "output_tokens", "nulls"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failures.update(other.failures)
        self.fingerprints.update(other.fingerprints)


def load_judge_templates(folder: str | Path) -> dict[str, str]:
    """`listwise.txt` and `reask.txt`; `ConfigError` when one is missing or lacks a placeholder."""
    templates = {}
    for name, needed in TEMPLATE_PLACEHOLDERS.items():
        path = Path(folder) / f"{name}.txt"
        if not path.is_file():
            raise ConfigError(f"{path}: judge prompt template missing (judge.prompts_dir = {folder})")
        text = path.read_text(encoding="utf-8")
        found = set(_PLACEHOLDER.findall(text))
        missing = [p for p in needed if p not in found]
        unknown = sorted(found - set(needed))
        if missing or unknown:
            raise ConfigError(f"{path}: placeholders missing {missing} / unknown {unknown} (allowed: {list(needed)})")
        templates[name] = text
    return templates


def fill(template: str, **fields: str) -> str:
    """Fill every placeholder in one pass (braces inside the filled-in answers are never touched)."""
    return _PLACEHOLDER.sub(lambda m: fields[m.group(1)], template)


def judge_settings(llm: LLMConfig, cfg: JudgeConfig) -> LLMConfig:
    """The `llm` section with the judge's model and decoding settings."""
    return with_changes(
        llm, model=cfg.model or llm.model, temperature=cfg.temperature, seed=cfg.seed, max_tokens=cfg.max_tokens
    )


def permutation(cfg: JudgeConfig, group: Group) -> list[int]:
    """The recorded presentation order of a group's members (indices into `group.members`)."""
    names = "|".join(name for name, _ in group.members)
    digest = hashlib.sha256(f"{cfg.shuffle_seed}|{group.comparison}|{group.question_id}|{names}".encode()).digest()
    order = list(range(len(group.members)))
    random.Random(int.from_bytes(digest[:8], "big")).shuffle(order)
    return order


def render_answers(answers: Sequence[str]) -> str:
    return "\n\n".join(f"[{LABELS[i]}]\n{' '.join(text.split())}\n[/{LABELS[i]}]" for i, text in enumerate(answers))


def parse_scores(text: str, num_answers: int) -> list[tuple[int, int, int]]:
    """The (grammar, coherence, specificity) of each label A.. in order; `JudgeParseError` otherwise.

    Lines that do not start with a label are ignored (a preamble); a line with an expected label must hold
    exactly three integers in 0..5, and scores under a label that was not shown are a line too many.
    """
    labels = LABELS[:num_answers]
    if not text.strip():
        raise JudgeParseError("empty_output")
    found: dict[str, tuple[int, int, int]] = {}
    for line in text.splitlines():
        match = _LINE.match(line.strip())
        if match is None:
            continue
        numbers = _NUMBER.findall(match.group(2).replace("\\t", " "))
        if match.group(1) not in labels:
            if len(numbers) == 3:  # scores for an answer that was not shown: a line too many
                raise JudgeParseError("misaligned", f"unexpected label {match.group(1)}")
            continue
        if len(numbers) != 3:
            raise JudgeParseError("bad_line", line.strip()[:60])
        if any("." in n or not 0 <= int(n) <= 5 for n in numbers):
            raise JudgeParseError("out_of_range", line.strip()[:60])
        if match.group(1) in found:
            raise JudgeParseError("duplicate_label", match.group(1))
        found[match.group(1)] = tuple(int(n) for n in numbers)  # type: ignore[assignment]
    if len(found) != num_answers:
        raise JudgeParseError("misaligned", f"expected {num_answers} lines, got {len(found)}")
    return [found[label] for label in labels]


def build_groups(
    comparison: str,
    questions: Sequence[Any],
    entries: Sequence[Entry],
    answers: dict[str, dict[str, str]],
    group_size: int,
) -> list[Group]:
    """Groups of up to `group_size` entries per question, entries in list order (one chunk per recipe's run
    of checkpoints when the list is grouped by recipe, as in the paper's inner comparison).

    Args:
        comparison: `inner` or `inter` (part of the shuffle seed and of the records).
        questions: objects with `id`, `question`, `split`.
        entries: the answerers, in order.
        answers: entry name -> question id -> answer text; every entry must answer every question.
        group_size: the most answers per group.
    """
    groups = []
    for question in questions:
        for start in range(0, len(entries), group_size):
            chunk = entries[start : start + group_size]
            members = tuple((entry.name, answers[entry.name][question.id]) for entry in chunk)
            groups.append(Group(comparison, question.id, question.question, question.split, members))
    return groups


@dataclass
class _Pending:
    group: Group
    pass_name: str
    order: list[int]
    shown: list[int]
    """Positions in `order` whose answers are not empty (what the judge sees, labelled A.. in order)."""
    attempt: int = 0
    failures: list[str] = field(default_factory=list)
    answer: Answer | None = None


def _prompt(item: _Pending, templates: dict[str, str]) -> str:
    texts = [item.group.members[item.order[position]][1] for position in item.shown]
    labels = ", ".join(LABELS[: len(texts)])
    prompt = fill(
        templates["listwise"],
        question=" ".join(item.group.question.split()),
        answers=render_answers(texts),
        num_answers=str(len(texts)),
        labels=labels,
    )
    if item.attempt:
        prompt += fill(templates["reask"], reason=item.failures[-1], num_answers=str(len(texts)), labels=labels)
    return prompt


def judge_groups(groups: Sequence[Group], client: Any, cfg: JudgeConfig, templates: dict[str, str]) -> JudgeOutcome:
    """Judge every group (and, with `reversed_pass`, again in reversed order); never raises on a bad reply.

    Args:
        groups: from `build_groups`.
        client: a `tinyhelen.simplify.llm.CachedLLM` (or anything with its `complete_many`).
        cfg: the judge section.
        templates: from `load_judge_templates`.

    Returns:
        Per answer and pass one score record (`grammar`, `coherence`, `specificity` or a `null` reason), per
        group and pass one call record (presented order, attempts, failures, fingerprint, tokens), and totals.
    """
    outcome = JudgeOutcome()
    passes = [("forward", False)] + ([("reversed", True)] if cfg.reversed_pass else [])
    pending: list[_Pending] = []
    done: list[_Pending] = []
    for group in groups:
        forward = permutation(cfg, group)
        for pass_name, backwards in passes:
            order = forward[::-1] if backwards else forward
            shown = [pos for pos, index in enumerate(order) if group.members[index][1].strip()]
            (pending if shown else done).append(_Pending(group, pass_name, order, shown))
    while pending:
        prompts = [_prompt(item, templates) for item in pending]
        answers, stats = client.complete_many(prompts, desc="judge", attempt=[item.attempt for item in pending])
        outcome.requests += stats.calls
        outcome.cache_hits += stats.cache_hits
        retry = []
        for item, answer in zip(pending, answers, strict=True):
            item.answer = answer
            if answer.error is None:
                outcome.input_tokens += answer.input_tokens
                outcome.output_tokens += answer.output_tokens
                if answer.system_fingerprint:
                    outcome.fingerprints[answer.system_fingerprint] += 1
            try:
                if answer.error is not None:
                    raise JudgeParseError(answer.error)
                if answer.finish_reason == "length":
                    raise JudgeParseError("length")
                parse_scores(answer.text, len(item.shown))
                done.append(item)
            except JudgeParseError as error:
                item.failures.append(error.reason)
                outcome.failures[error.reason] += 1
                if item.attempt < cfg.max_parse_retries:
                    item.attempt += 1
                    retry.append(item)
                else:
                    done.append(item)
        pending = retry
    for item in sorted(
        done, key=lambda it: (it.group.comparison, it.group.question_id, [m for m, _ in it.group.members], it.pass_name)
    ):
        _record(item, outcome)
    return outcome


def _record(item: _Pending, outcome: JudgeOutcome) -> None:
    group = item.group
    scores: list[tuple[int, int, int]] | None = None
    null = None
    if item.shown:
        try:
            scores = parse_scores(
                item.answer.text
                if item.answer and item.answer.error is None and item.answer.finish_reason != "length"
                else "",
                len(item.shown),
            )
        except JudgeParseError:
            null = item.failures[-1]
    by_position = dict(zip(item.shown, scores or [], strict=False))
    for position, index in enumerate(item.order):
        name, text = group.members[index]
        record: dict[str, Any] = {
            "comparison": group.comparison,
            "pass": item.pass_name,
            "question_id": group.question_id,
            "split": group.split,
            "model": name,
            "position": position,
            "label": None,
            "by": "judge",
            "null": None,
        }
        if not text.strip():
            record.update(by="rule", grammar=0, coherence=0, specificity=0)
        elif null is not None:
            record.update(
                label=LABELS[item.shown.index(position)], grammar=None, coherence=None, specificity=None, null=null
            )
            outcome.nulls += 1
        else:
            record.update(
                label=LABELS[item.shown.index(position)], **dict(zip(AXES, by_position[position], strict=False))
            )
        outcome.scores.append(record)
    answer = item.answer
    outcome.calls.append(
        {
            "comparison": group.comparison,
            "pass": item.pass_name,
            "question_id": group.question_id,
            "presented": [group.members[index][0] for index in item.order],
            "permutation": item.order,
            "attempts": item.attempt + 1 if item.shown else 0,
            "failures": item.failures,
            "null": null,
            "system_fingerprint": answer.system_fingerprint if answer else None,
            "input_tokens": answer.input_tokens if answer else 0,
            "output_tokens": answer.output_tokens if answer else 0,
        }
    )


def position_bias(scores: Sequence[dict[str, Any]]) -> dict[str, float] | None:
    """Mean absolute change of each axis (and of the sum) between the forward and reversed passes, over the
    answers the judge scored in both (rule-scored empty answers left out); None without a reversed pass."""
    forward, backward = {}, {}
    for record in scores:
        if record["by"] != "judge" or record["null"] is not None:
            continue
        key = (record["comparison"], record["question_id"], record["model"])
        (forward if record["pass"] == "forward" else backward)[key] = [record[axis] for axis in AXES]
    both = sorted(set(forward) & set(backward))
    if not both:
        return None
    changes = {axis: sum(abs(forward[k][i] - backward[k][i]) for k in both) / len(both) for i, axis in enumerate(AXES)}
    changes["sum"] = sum(abs(sum(forward[k]) - sum(backward[k])) for k in both) / len(both)
    return {name: round(value, 4) for name, value in changes.items()} | {"answers": len(both)}


AnswerSource = Callable[[Entry, Sequence[Any]], dict[str, str]]
"""(entry, questions) -> question id -> answer: how the comparison finds (or makes) an entry's answers."""

"""Stage `simplify`: the cleaned original corpus -> the leaner corpus, through one of three backends.

    result = simplify_corpus(params, "data/clean", "data/leaner")

Reads `<clean>/ori/<split>/<genre>.jsonl` and `<clean>/ori/instruction.jsonl`; writes, atomically as one
folder, `<out>/<split>/<genre>.jsonl` and `<out>/instruction.jsonl` (same record schema, `variant` "leaner",
`id` = the original's id) and `<out>/rejects.jsonl` (`id`, `genre`, `split`, `reason`, `origin`). Every input
document ends in exactly one of the two.

Backends (`simplify.backend`):
- `release`: replays the published leaner documents (`<clean>/leaner/...`) by id; an original without a twin
  is rejected with reason "not in release".
- `llm`: genre prompts through `tinyhelen.simplify.llm.CachedLLM`. Text genres are chunked by sentences
  (`tinyhelen.simplify.chunking`); code is one request per record (task and solution blocks); instructions one
  request per record (three parts); math is kept unchanged, or graded for difficulty (`simplify.math`).
- `rules`: the offline deterministic baseline of `tinyhelen.simplify.rules` (code: task text only; instructions: no
  vocabulary filter; math unchanged).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from tinyhelen.core.documents import corpus_file, instruction_file
from tinyhelen.core.io import atomic_dir, dumps_line, iter_records, sha256_file
from tinyhelen.core.release import NATURAL_GENRES, instruction_text, strip_tags
from tinyhelen.core.sentences import make_splitter
from tinyhelen.params import Params
from tinyhelen.simplify.chunking import assemble, make_chunks, make_token_counter
from tinyhelen.simplify.llm import CachedLLM, CallStats
from tinyhelen.simplify.prompts import (
    GRADES,
    ParseError,
    answer_text,
    load_templates,
    parse_code,
    parse_grades,
    parse_instruction,
    parse_passages,
    render_problems,
)
from tinyhelen.simplify.rules import RuleSimplifier

log = logging.getLogger(__name__)

#: The headline numbers of `metrics/simplify.json` (`repro.pick` patterns); the full accounting is
#: `stats.json` in the stage's output folder.
HEADLINE_METRICS = ("backend", "total")

INSTRUCTION = "instruction"
#: Documents handled together, times the genre's docs_per_group so windows never split a group (bounds memory;
#: the LLM sees all of a window's requests at once).
WINDOW = 512


@dataclass
class GenreStats:
    """Counters for one genre, summed over splits."""

    documents_in: int = 0
    documents_out: int = 0
    words_in: int = 0
    """Words of the originals that were kept (so the ratio compares like with like)."""
    words_out: int = 0
    calls: CallStats = field(default_factory=CallStats)
    failures: Counter = field(default_factory=Counter)

    def as_metrics(self, price_in: float, price_out: float) -> dict[str, Any]:
        return {
            "documents_in": self.documents_in,
            "documents_out": self.documents_out,
            "word_ratio": round(self.words_out / self.words_in, 4) if self.words_in else None,
            "llm_calls": self.calls.calls,
            "cache_hits": self.calls.cache_hits,
            "input_tokens": self.calls.input_tokens,
            "output_tokens": self.calls.output_tokens,
            "estimated_cost": round((self.calls.input_tokens * price_in
                                     + self.calls.output_tokens * price_out) / 1e6, 6),
            "failures": dict(sorted(self.failures.items())),
        }


@dataclass
class SimplifyResult:
    metrics: dict[str, Any]
    inputs: dict[str, str]


@dataclass(frozen=True)
class Outcome:
    """One input document's fate: a leaner record, or a reject reason."""

    record: dict[str, Any] | None
    reason: str | None = None


def leaner_record(original: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """The original record as the leaner variant, with some fields replaced and `text` kept consistent."""
    record = {**original, **fields, "variant": "leaner"}
    if original["genre"] == "code":
        record["text"] = f"{record['prompt']} {record['response']}"
    elif original["genre"] == INSTRUCTION:
        record["text"] = instruction_text(record["instruction"], record["input"], record["output"])
    return record


def source_text(record: dict[str, Any]) -> str:
    """The text a text-genre document is simplified from (wiki: tags removed, as the release did)."""
    return strip_tags(record["text"]) if record["genre"] == "wiki" else record["text"]


class ReleaseBackend:
    """Replays `<clean>/leaner/<split>/<genre>.jsonl` onto the originals, by id."""

    def __init__(self, clean_dir: Path) -> None:
        self.clean_dir = clean_dir
        self.inputs: dict[str, str] = {}

    def run(self, split: str, genre: str, docs: list[dict], stats: GenreStats) -> list[Outcome]:
        leaner = self.clean_dir / "leaner"
        path = instruction_file(leaner) if genre == INSTRUCTION else corpus_file(leaner, split, genre)
        if str(path) not in self.inputs:
            self._twins = {}
            if path.is_file():
                self.inputs[str(path)] = sha256_file(path)
                self._twins = {record["id"]: record for _, record in iter_records(path)}
            else:
                log.warning("%s: no published leaner file; every original is 'not in release'", path)
                self.inputs[str(path)] = "absent"
        return [Outcome(self._twins[doc["id"]]) if doc["id"] in self._twins else Outcome(None, "not in release")
                for doc in docs]


class RulesBackend:
    def __init__(self, params: Params) -> None:
        self.settings = params.simplify
        self.rules = RuleSimplifier(params.simplify.rules, make_splitter(params.sentences))
        self.inputs: dict[str, str] = {}

    def run(self, split: str, genre: str, docs: list[dict], stats: GenreStats) -> list[Outcome]:
        outcomes = []
        for doc in docs:
            if genre == "math":
                outcomes.append(Outcome(leaner_record(doc)))
            elif genre == "code":
                outcomes.append(Outcome(leaner_record(doc, prompt=self.rules.simplify(doc["prompt"])
                                                      or self.rules.anonymise_only(doc["prompt"]))))
            elif genre == INSTRUCTION:
                parts = {key: self.rules.anonymise_only(doc[key]) for key in ("instruction", "input", "output")}
                outcomes.append(Outcome(leaner_record(doc, **parts)))
            else:
                text = self.rules.simplify(source_text(doc))
                outcomes.append(Outcome(leaner_record(doc, text=text)) if text
                                else Outcome(None, "no_simple_sentence"))
        return outcomes


class LLMBackend:
    def __init__(self, params: Params, llm: CachedLLM | None = None, names: list[str] | None = None) -> None:
        """`names`: the templates to load (default: those the `simplify` params need)."""
        self.settings = settings = params.simplify
        if names is None:
            names = [genre for genre in settings.genres if genre != "math"]
            if settings.instructions:
                names.append(INSTRUCTION)
            if settings.math == "grade" and "math" in settings.genres:
                names.append("math_grade")
        self.templates = load_templates(settings.prompts_dir, names)
        paths = [Path(settings.prompts_dir) / f"{name}.txt" for name in names]
        self.inputs = {str(path): sha256_file(path) for path in paths}
        self.llm = llm or CachedLLM(params.llm)
        self.split = make_splitter(params.sentences)
        self.count = make_token_counter(params.simplify.chunking.token_counter)

    def _ask(self, prompts: list[str], stats: GenreStats, desc: str) -> list:
        answers, calls = self.llm.complete_many(prompts, desc=desc)
        stats.calls.add(calls)
        return answers

    def run(self, split: str, genre: str, docs: list[dict], stats: GenreStats) -> list[Outcome]:
        desc = f"{split}/{genre}"
        if genre == "math":
            return self._math(docs, stats, desc)
        if genre in ("code", INSTRUCTION):
            return self._records(genre, docs, stats, desc)
        return self._text(genre, docs, stats, desc)

    def _text(self, genre: str, docs: list[dict], stats: GenreStats, desc: str) -> list[Outcome]:
        template = self.templates[genre]
        texts = [source_text(doc) for doc in docs]
        chunks = make_chunks(texts, getattr(self.settings.chunking, genre), self.split, self.count)
        answers = self._ask([template.render(paragraph=chunk.text) for chunk in chunks], stats, desc)
        passages, reasons = [], {}
        for chunk, answer in zip(chunks, answers, strict=True):
            try:
                passages.append(parse_passages(answer_text(answer), template, len(chunk.pieces)))
            except ParseError as error:
                passages.append(None)
                for piece in chunk.pieces:
                    reasons.setdefault(piece.doc, error.reason)
        outputs = assemble(len(docs), chunks, passages)
        outcomes = []
        for index, (doc, text) in enumerate(zip(docs, outputs, strict=True)):
            if not texts[index].strip():
                outcomes.append(Outcome(None, "empty_input"))
            elif text is None:
                outcomes.append(Outcome(None, reasons.get(index, "empty_output")))
            elif len(text.strip()) < self.settings.min_chars:
                outcomes.append(Outcome(None, "too_short"))
            else:
                outcomes.append(Outcome(leaner_record(doc, text=text.strip())))
        return outcomes

    def _records(self, genre: str, docs: list[dict], stats: GenreStats, desc: str) -> list[Outcome]:
        template = self.templates[genre]
        if genre == "code":
            prompts = [template.render(task=doc["prompt"], response=doc["response"]) for doc in docs]
        else:
            prompts = [template.render(task=doc["instruction"], input=doc["input"] or "None",
                                       response=doc["output"]) for doc in docs]
        outcomes = []
        for doc, answer in zip(docs, self._ask(prompts, stats, desc), strict=True):
            try:
                text = answer_text(answer)
                if genre == "code":
                    task, solution = parse_code(text, template)
                    outcomes.append(Outcome(leaner_record(doc, prompt=task, response=solution)))
                else:
                    task, input_, output = parse_instruction(text, template)
                    outcomes.append(Outcome(leaner_record(doc, instruction=task, input=input_, output=output)))
            except ParseError as error:
                outcomes.append(Outcome(None, error.reason))
        return outcomes

    def _math(self, docs: list[dict], stats: GenreStats, desc: str) -> list[Outcome]:
        if self.settings.math == "keep":
            return [Outcome(leaner_record(doc)) for doc in docs]
        template, size = self.templates["math_grade"], self.settings.math_grade_batch
        batches = [docs[start : start + size] for start in range(0, len(docs), size)]
        prompts = [template.render(problems=render_problems([d["problem"] for d in batch])) for batch in batches]
        limit = GRADES.index(self.settings.math_max_level)
        outcomes = []
        for batch, answer in zip(batches, self._ask(prompts, stats, desc), strict=True):
            try:
                grades = parse_grades(answer_text(answer), template, len(batch))
            except ParseError as error:
                outcomes.extend(Outcome(None, f"grading_{error.reason}") for _ in batch)
                continue
            for doc, grade in zip(batch, grades, strict=True):
                outcomes.append(Outcome(leaner_record(doc, meta={**doc["meta"], "difficulty": grade}))
                                if GRADES.index(grade) <= limit else Outcome(None, f"above_level_{grade}"))
        return outcomes


def make_backend(params: Params, clean_dir: Path):
    """The backend named by `simplify.backend`."""
    if params.simplify.backend == "release":
        return ReleaseBackend(clean_dir)
    if params.simplify.backend == "rules":
        return RulesBackend(params)
    return LLMBackend(params)


def _windows(path: Path, limit: int, size: int) -> Iterator[list[dict]]:
    window: list[dict] = []
    for number, (_, record) in enumerate(iter_records(path), start=1):
        if limit and number > limit:
            break
        window.append(record)
        if len(window) == size:
            yield window
            window = []
    if window:
        yield window


def _units(params: Params, clean_dir: Path) -> list[tuple[str, str, Path, str]]:
    """(split, genre, input path, output name) for every file to simplify."""
    units = [(split, genre, corpus_file(clean_dir / "ori", split, genre), corpus_file(Path(), split, genre).as_posix())
             for split in params.simplify.splits for genre in params.simplify.genres]
    if params.simplify.instructions:
        units.append(("all", INSTRUCTION, instruction_file(clean_dir / "ori"), instruction_file(Path()).as_posix()))
    return units


def simplify_corpus(params: Params, clean_dir: str | Path, out_dir: str | Path, backend=None) -> SimplifyResult:
    """Simplify every configured (split, genre) file and the instructions; see the module docstring.

    Args:
        params: the whole params (uses `simplify`, `llm`, `sentences`).
        clean_dir: the clean stage's folder (holding `ori/` and, for `release`, `leaner/`).
        out_dir: the leaner corpus folder, replaced whole on success.
        backend: a ready backend (tests); default from `simplify.backend`.
    """
    clean_dir, out_dir = Path(clean_dir), Path(out_dir)
    backend = backend or make_backend(params, clean_dir)
    stats: dict[str, GenreStats] = {}
    inputs: dict[str, str] = {}
    with atomic_dir(out_dir) as tmp, open(tmp / "rejects.jsonl", "w", encoding="utf-8") as rejects:
        for split, genre, path, name in tqdm(_units(params, clean_dir), desc="simplify", unit="file"):
            if not path.is_file():
                log.warning("%s: not found; skipping %s/%s", path, split, genre)
                continue
            inputs[str(path)] = sha256_file(path)
            genre_stats = stats.setdefault(genre, GenreStats())
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            with open(tmp / name, "w", encoding="utf-8") as handle:
                group = getattr(params.simplify.chunking, genre).docs_per_group if genre in NATURAL_GENRES else 1
                for docs in _windows(path, params.simplify.max_documents, WINDOW * group):
                    for doc, outcome in zip(docs, backend.run(split, genre, docs, genre_stats), strict=True):
                        genre_stats.documents_in += 1
                        if outcome.record is not None:
                            handle.write(dumps_line(outcome.record))
                            genre_stats.documents_out += 1
                            genre_stats.words_in += len(doc["text"].split())
                            genre_stats.words_out += len(outcome.record["text"].split())
                        else:
                            genre_stats.failures[outcome.reason] += 1
                            rejects.write(dumps_line({"id": doc["id"], "genre": genre, "split": split,
                                                      "reason": outcome.reason, "origin": doc.get("origin")}))
    inputs.update(backend.inputs)
    metrics = _metrics(params, stats, getattr(backend, "rules", None))
    _log_summary(metrics)
    return SimplifyResult(metrics=metrics, inputs=inputs)


def _metrics(params: Params, stats: dict[str, GenreStats], rules: RuleSimplifier | None) -> dict[str, Any]:
    price_in, price_out = params.llm.price_input_per_1m, params.llm.price_output_per_1m
    total = GenreStats()
    for item in stats.values():
        total.documents_in += item.documents_in
        total.documents_out += item.documents_out
        total.words_in += item.words_in
        total.words_out += item.words_out
        total.calls.add(item.calls)
        total.failures.update(item.failures)
    metrics: dict[str, Any] = {"backend": params.simplify.backend}
    if rules is not None:
        metrics["ner"] = rules.ner_used
    metrics["genres"] = {genre: item.as_metrics(price_in, price_out) for genre, item in stats.items()}
    metrics["total"] = total.as_metrics(price_in, price_out)
    return metrics


def _log_summary(metrics: dict[str, Any]) -> None:
    total = metrics["total"]
    log.info("simplify (%s): %d of %d documents kept; %d LLM calls, %d cache hits, %d+%d tokens, cost ~%.4f",
             metrics["backend"], total["documents_out"], total["documents_in"], total["llm_calls"],
             total["cache_hits"], total["input_tokens"], total["output_tokens"], total["estimated_cost"])
    for genre, item in metrics["genres"].items():
        if item["failures"]:
            log.info("  %s: rejected %s", genre, ", ".join(f"{k} {v}" for k, v in item["failures"].items()))


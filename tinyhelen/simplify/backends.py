"""Stage `simplify`: the cleaned original corpus -> the leaner corpus, through one of three backends.

    result = simplify_corpus(params.simplify, params.llm, params.sentences, "data/clean", "data/leaner")

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
  An answer that arrives but cannot be parsed is asked again as a new request (`llm.max_parse_retries`
  fresh re-asks per prompt and run; cached re-asks are free), so one bad answer costs a chunk nothing and
  a re-run can recover what an earlier run rejected.
- `rules`: the offline deterministic baseline of `tinyhelen.simplify.rules` (code: task text only; instructions: no
  vocabulary filter; math unchanged).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from tinyhelen.core.config import SentencesConfig
from tinyhelen.core.documents import corpus_file, instruction_file
from tinyhelen.core.io import atomic_dir, dumps_line, iter_records, sha256_file
from tinyhelen.core.log import note_kept
from tinyhelen.core.release import NATURAL_GENRES, instruction_text, strip_tags
from tinyhelen.core.sentences import make_splitter
from tinyhelen.simplify.chunking import assemble, make_chunks, make_token_counter
from tinyhelen.simplify.config import LLMConfig, SimplifyConfig
from tinyhelen.simplify.llm import CachedLLM, CallStats, cache_path
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
    reasks: int = 0
    """Prompts asked again because their answer could not be used (from the cache or fresh)."""

    def as_metrics(self, price_in: float, price_out: float) -> dict[str, Any]:
        """This run's calls (`llm_calls`, `cache_hits`, `input_tokens`, `output_tokens`) and what the output
        cost over every run that fed it (`*_behind_output`, cost estimate included): cached answers count the
        requests and tokens they took when they were asked."""
        calls = self.calls
        return {
            "documents_in": self.documents_in,
            "documents_out": self.documents_out,
            "word_ratio": round(self.words_out / self.words_in, 4) if self.words_in else None,
            "llm_calls": calls.calls,
            "cache_hits": calls.cache_hits,
            "input_tokens": calls.input_tokens,
            "output_tokens": calls.output_tokens,
            "reasks": self.reasks,
            "llm_calls_behind_output": calls.calls_behind,
            "input_tokens_behind_output": calls.input_tokens_behind,
            "output_tokens_behind_output": calls.output_tokens_behind,
            "estimated_cost": round(
                (calls.input_tokens_behind * price_in + calls.output_tokens_behind * price_out) / 1e6, 6
            ),
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
        return [
            Outcome(self._twins[doc["id"]]) if doc["id"] in self._twins else Outcome(None, "not in release")
            for doc in docs
        ]


class RulesBackend:
    def __init__(self, cfg: SimplifyConfig, sentences: SentencesConfig) -> None:
        self.settings = cfg
        self.rules = RuleSimplifier(cfg.rules, make_splitter(sentences))
        self.inputs: dict[str, str] = {}

    def run(self, split: str, genre: str, docs: list[dict], stats: GenreStats) -> list[Outcome]:
        outcomes = []
        for doc in docs:
            if genre == "math":
                outcomes.append(Outcome(leaner_record(doc)))
            elif genre == "code":
                outcomes.append(
                    Outcome(
                        leaner_record(
                            doc, prompt=self.rules.simplify(doc["prompt"]) or self.rules.anonymise_only(doc["prompt"])
                        )
                    )
                )
            elif genre == INSTRUCTION:
                parts = {key: self.rules.anonymise_only(doc[key]) for key in ("instruction", "input", "output")}
                outcomes.append(Outcome(leaner_record(doc, **parts)))
            else:
                text = self.rules.simplify(source_text(doc))
                outcomes.append(Outcome(leaner_record(doc, text=text)) if text else Outcome(None, "no_simple_sentence"))
        return outcomes


class LLMBackend:
    def __init__(
        self,
        cfg: SimplifyConfig,
        llm_cfg: LLMConfig,
        sentences: SentencesConfig,
        llm: CachedLLM | None = None,
        names: list[str] | None = None,
    ) -> None:
        """`names`: the templates to load (default: those the `simplify` params need)."""
        self.settings = settings = cfg
        if names is None:
            names = [genre for genre in settings.genres if genre != "math"]
            if settings.instructions:
                names.append(INSTRUCTION)
            if settings.math == "grade" and "math" in settings.genres:
                names.append("math_grade")
        self.templates = load_templates(settings.prompts_dir, names)
        paths = [Path(settings.prompts_dir) / f"{name}.txt" for name in names]
        self.inputs = {str(path): sha256_file(path) for path in paths}
        self.llm = llm or CachedLLM(llm_cfg)
        note_kept(
            f"every LLM answer received so far, in the response cache ({cache_path()}): a re-run asks only for the rest"
        )
        self.max_parse_retries = llm_cfg.max_parse_retries
        self.split = make_splitter(sentences)
        self.count = make_token_counter(cfg.chunking.token_counter)

    def _ask(self, prompts: list[str], parse: Callable[[int, Any], Any], stats: GenreStats, desc: str) -> list:
        """Ask every prompt and parse its answer with `parse(index, answer)`; return per prompt what `parse`
        returned, or the `ParseError` of its last answer.

        An answer that arrived (HTTP 200) but does not parse is asked again with the next re-ask number: a new
        request under its own cache key. Re-asks found in the cache are free; at most `llm.max_parse_retries`
        fresh ones are sent per prompt in this run. Requests that failed outright were already retried by the
        client and are not cached, so a later run asks them again anyway.
        """
        results: list[Any] = [None] * len(prompts)
        fresh = [0] * len(prompts)
        pending, attempt = list(range(len(prompts))), 0
        while pending:
            answers, calls = self.llm.complete_many(
                [prompts[i] for i in pending], desc=f"{desc} re-ask {attempt}" if attempt else desc, attempt=attempt
            )
            stats.calls.add(calls)
            if attempt:
                stats.reasks += len(pending)
            again = []
            for index, answer in zip(pending, answers, strict=True):
                try:
                    results[index] = parse(index, answer)
                except ParseError as error:
                    results[index] = error
                    fresh[index] += bool(attempt and not answer.cached)
                    if answer.error is None and fresh[index] < self.max_parse_retries:
                        again.append(index)
            pending, attempt = again, attempt + 1
        return results

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
        results = self._ask(
            [template.render(paragraph=chunk.text) for chunk in chunks],
            lambda i, answer: parse_passages(answer_text(answer), template, len(chunks[i].pieces)),
            stats,
            desc,
        )
        passages, reasons = [], {}
        for chunk, result in zip(chunks, results, strict=True):
            if isinstance(result, ParseError):
                passages.append(None)
                for piece in chunk.pieces:
                    reasons.setdefault(piece.doc, result.reason)
            else:
                passages.append(result)
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
            prompts = [
                template.render(task=doc["instruction"], input=doc["input"] or "None", response=doc["output"])
                for doc in docs
            ]
        parse = parse_code if genre == "code" else parse_instruction
        outcomes = []
        for doc, result in zip(
            docs, self._ask(prompts, lambda _, answer: parse(answer_text(answer), template), stats, desc), strict=True
        ):
            if isinstance(result, ParseError):
                outcomes.append(Outcome(None, result.reason))
            elif genre == "code":
                task, solution = result
                outcomes.append(Outcome(leaner_record(doc, prompt=task, response=solution)))
            else:
                task, input_, output = result
                outcomes.append(Outcome(leaner_record(doc, instruction=task, input=input_, output=output)))
        return outcomes

    def _math(self, docs: list[dict], stats: GenreStats, desc: str) -> list[Outcome]:
        if self.settings.math == "keep":
            return [Outcome(leaner_record(doc)) for doc in docs]
        template, size = self.templates["math_grade"], self.settings.math_grade_batch
        batches = [docs[start : start + size] for start in range(0, len(docs), size)]
        prompts = [template.render(problems=render_problems([d["problem"] for d in batch])) for batch in batches]
        limit = GRADES.index(self.settings.math_max_level)
        results = self._ask(
            prompts, lambda i, answer: parse_grades(answer_text(answer), template, len(batches[i])), stats, desc
        )
        outcomes = []
        for batch, grades in zip(batches, results, strict=True):
            if isinstance(grades, ParseError):
                outcomes.extend(Outcome(None, f"grading_{grades.reason}") for _ in batch)
                continue
            for doc, grade in zip(batch, grades, strict=True):
                outcomes.append(
                    Outcome(leaner_record(doc, meta={**doc["meta"], "difficulty": grade}))
                    if GRADES.index(grade) <= limit
                    else Outcome(None, f"above_level_{grade}")
                )
        return outcomes


def make_backend(
    name: str,
    cfg: SimplifyConfig,
    llm_cfg: LLMConfig,
    sentences: SentencesConfig,
    release_dir: str | Path,
    templates: list[str] | None = None,
):
    """The backend `name` (release | rules | llm): `simplify.backend`, or `instruct_data.backend` with
    `templates=["instruction"]`. `release_dir` holds the published leaner files (backend release)."""
    if name == "release":
        return ReleaseBackend(Path(release_dir))
    if name == "rules":
        return RulesBackend(cfg, sentences)
    return LLMBackend(cfg, llm_cfg, sentences, names=templates)


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


def _units(cfg: SimplifyConfig, clean_dir: Path) -> list[tuple[str, str, Path, str]]:
    """(split, genre, input path, output name) for every file to simplify."""
    units = [
        (split, genre, corpus_file(clean_dir / "ori", split, genre), corpus_file(Path(), split, genre).as_posix())
        for split in cfg.splits
        for genre in cfg.genres
    ]
    if cfg.instructions:
        units.append(("all", INSTRUCTION, instruction_file(clean_dir / "ori"), instruction_file(Path()).as_posix()))
    return units


def simplify_corpus(
    cfg: SimplifyConfig,
    llm_cfg: LLMConfig,
    sentences: SentencesConfig,
    clean_dir: str | Path,
    out_dir: str | Path,
    backend=None,
) -> SimplifyResult:
    """Simplify every configured (split, genre) file and the instructions; see the module docstring.

    Args:
        cfg: the `simplify` section.
        llm_cfg: the `llm` section (the endpoint of backend `llm`; its prices for the cost estimate).
        sentences: the `sentences` section (the splitter of the `llm` and `rules` backends).
        clean_dir: the clean stage's folder (holding `ori/` and, for `release`, `leaner/`).
        out_dir: the leaner corpus folder, replaced whole on success.
        backend: a ready backend (tests); default from `simplify.backend`.
    """
    clean_dir, out_dir = Path(clean_dir), Path(out_dir)
    backend = backend or make_backend(cfg.backend, cfg, llm_cfg, sentences, clean_dir)
    stats: dict[str, GenreStats] = {}
    inputs: dict[str, str] = {}
    with atomic_dir(out_dir) as tmp, open(tmp / "rejects.jsonl", "w", encoding="utf-8") as rejects:
        for split, genre, path, name in tqdm(_units(cfg, clean_dir), desc="simplify", unit="file"):
            if not path.is_file():
                log.warning("%s: not found; skipping %s/%s", path, split, genre)
                continue
            inputs[str(path)] = sha256_file(path)
            genre_stats = stats.setdefault(genre, GenreStats())
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            with open(tmp / name, "w", encoding="utf-8") as handle:
                group = getattr(cfg.chunking, genre).docs_per_group if genre in NATURAL_GENRES else 1
                for docs in _windows(path, cfg.max_documents, WINDOW * group):
                    for doc, outcome in zip(docs, backend.run(split, genre, docs, genre_stats), strict=True):
                        genre_stats.documents_in += 1
                        if outcome.record is not None:
                            handle.write(dumps_line(outcome.record))
                            genre_stats.documents_out += 1
                            genre_stats.words_in += len(doc["text"].split())
                            genre_stats.words_out += len(outcome.record["text"].split())
                        else:
                            genre_stats.failures[outcome.reason] += 1
                            rejects.write(
                                dumps_line(
                                    {
                                        "id": doc["id"],
                                        "genre": genre,
                                        "split": split,
                                        "reason": outcome.reason,
                                        "origin": doc.get("origin"),
                                    }
                                )
                            )
    inputs.update(backend.inputs)
    metrics = _metrics(cfg, llm_cfg, stats, getattr(backend, "rules", None))
    _log_summary(metrics)
    return SimplifyResult(metrics=metrics, inputs=inputs)


def _metrics(
    cfg: SimplifyConfig, llm_cfg: LLMConfig, stats: dict[str, GenreStats], rules: RuleSimplifier | None
) -> dict[str, Any]:
    price_in, price_out = llm_cfg.price_input_per_1m, llm_cfg.price_output_per_1m
    total = GenreStats()
    for item in stats.values():
        total.documents_in += item.documents_in
        total.documents_out += item.documents_out
        total.words_in += item.words_in
        total.words_out += item.words_out
        total.calls.add(item.calls)
        total.failures.update(item.failures)
        total.reasks += item.reasks
    metrics: dict[str, Any] = {"backend": cfg.backend}
    if rules is not None:
        metrics["ner"] = rules.ner_used
    metrics["genres"] = {genre: item.as_metrics(price_in, price_out) for genre, item in stats.items()}
    metrics["total"] = total.as_metrics(price_in, price_out)
    return metrics


def _log_summary(metrics: dict[str, Any]) -> None:
    total = metrics["total"]
    log.info(
        "simplify (%s): %d of %d documents kept; %d LLM calls, %d cache hits, %d re-asks; behind the "
        "output: %d calls, %d+%d tokens, cost ~%.4f",
        metrics["backend"],
        total["documents_out"],
        total["documents_in"],
        total["llm_calls"],
        total["cache_hits"],
        total["reasks"],
        total["llm_calls_behind_output"],
        total["input_tokens_behind_output"],
        total["output_tokens_behind_output"],
        total["estimated_cost"],
    )
    for genre, item in metrics["genres"].items():
        if item["failures"]:
            log.info("  %s: rejected %s", genre, ", ".join(f"{k} {v}" for k, v in item["failures"].items()))

"""Section `corpus`: ori vs leaner per genre, and what cleaning and simplification removed and rejected.

Reads (each optional; the section is omitted only when none is present):
- `vocab.json` (stage `vocab`): `<corpus>.<genre>.{words, vocabulary, list_coverage, oov_rate, unigram_entropy,
  mean_sentence_length, flesch_reading_ease, flesch_kincaid_grade, distinct_2, distinct_3}`, `word_list`;
- `clean.json` (stage `clean`): `corpus.<variant>.<genre>.{documents_in, documents_out, words_in, words_out,
  rejected.<rule>, words_removed.<rule>}`;
- `simplify.json` (stage `simplify`): `backend`, `genres.<genre>.{documents_in, documents_out, word_ratio,
  failures.<reason>, llm_calls, estimated_cost}`;
- `compose.json` / `pack.json` / `tokenizer.json`: tokens per corpus and split, blocks, tokens per word.
"""

from __future__ import annotations

from tinyhelen.core.io import read_json
from tinyhelen.report.figures import corpus_colour, grid, grouped_bars, to_png
from tinyhelen.report.names import corpus_label
from tinyhelen.report.page import (
    Cell,
    Context,
    Figure,
    Section,
    Table,
    fmt,
    get,
    is_number,
    label,
    number_cell,
)

VOCAB_COLUMNS = (  # (key, header, digits or None for counts)
    ("words", "words", None),
    ("vocabulary", "vocabulary (types)", None),
    ("list_coverage", "word-list coverage", "d"),
    ("oov_rate", "OOV rate", "d"),
    ("unigram_entropy", "unigram entropy (bits)", 2),
    ("mean_sentence_length", "sentence length (words)", 1),
    ("flesch_reading_ease", "Flesch reading ease", 1),
    ("flesch_kincaid_grade", "Flesch-Kincaid grade", 1),
    ("distinct_2", "distinct-2", "d"),
    ("distinct_3", "distinct-3", "d"),
)
PLOTTED = (
    ("list_coverage", "word-list coverage", "share of running words"),
    ("oov_rate", "OOV rate", "share of running words"),
    ("unigram_entropy", "unigram entropy", "bits per word"),
    ("mean_sentence_length", "mean sentence length", "words per sentence"),
    ("flesch_kincaid_grade", "Flesch-Kincaid grade", "US school grade"),
    ("distinct_2", "distinct-2", "unique bigrams / bigrams"),
)
CORPORA = ("ori", "leaner")


def _read(ctx: Context, name: str, section: Section):
    path = ctx.path(name)
    if not path.is_file():
        return None
    section.inputs.append(ctx.name(name))
    return read_json(path)


def _genres(metrics: dict, corpora=CORPORA) -> list[str]:
    genres: list[str] = []
    for corpus in corpora:
        for genre in get(metrics, corpus, {}) or {}:
            if genre not in genres and isinstance(metrics[corpus][genre], dict):
                genres.append(genre)
    if "all" in genres:  # the pooled row last
        genres.remove("all")
        genres.append("all")
    return genres


def _vocab(ctx: Context, vocab: dict, section: Section) -> None:
    source = ctx.name("vocab.json")
    genres = _genres(vocab)
    rows = []
    for genre in genres:
        for corpus in CORPORA:
            values = get(vocab, [corpus, genre])
            if not isinstance(values, dict):
                continue
            cells = [label(genre), label(corpus_label(corpus))]
            for key, _, digits in VOCAB_COLUMNS:
                places = ctx.digits if digits == "d" else (0 if digits is None else digits)
                cells.append(number_cell(values.get(key), places, f"{source}: {corpus}.{genre}.{key}"))
            rows.append(cells)
    word_list = vocab.get("word_list") or {}
    notes = [
        (
            f"Word list: the {fmt(word_list.get('size'), 0)} most frequent words of the "
            f"{word_list.get('source', '?')} source (`{source}: word_list`); coverage = share of running words "
            "in the list, OOV = the rest. Entropy over word unigrams; distinct-n = unique n-grams / n-grams."
        )
    ]
    if vocab.get("absent"):
        notes.append(f"Absent (no documents): {', '.join(map(str, vocab['absent']))} (`{source}: absent`).")
    section.tables.append(
        Table(
            "Ori vs leaner per genre (all splits pooled)",
            ["genre", "corpus", *[h for _, h, _ in VOCAB_COLUMNS]],
            rows,
            [f"{source}: <corpus>.<genre>.<metric>"],
            notes,
        )
    )
    plotted_genres = [g for g in genres if g != "all"] or genres
    fig, axes = grid(len(PLOTTED), columns=3, width=3.6, height=2.8)
    for ax, (key, title, unit) in zip(axes, PLOTTED, strict=False):
        series = [
            (corpus_label(c), corpus_colour(c), [get(vocab, [c, g, key]) for g in plotted_genres], None)
            for c in CORPORA
        ]
        grouped_bars(ax, plotted_genres, series)
        ax.set_title(title)
        ax.set_ylabel(unit)
        ax.set_xlabel("genre")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, title="corpus", loc="upper right", ncols=len(labels))
    fig.suptitle("Ori vs leaner per genre (stage vocab)")
    section.figures.append(
        Figure(
            "corpus_by_genre",
            "Vocabulary and complexity per genre, ori vs leaner.",
            to_png(fig, ctx.dpi),
            [f"{source}: <corpus>.<genre>.<metric>"],
        )
    )


def _clean(ctx: Context, clean: dict, section: Section) -> None:
    source = ctx.name("clean.json")
    corpus = clean.get("corpus") or {}
    rows, rule_rows = [], []
    rules: list[str] = []
    untouched: list[str] = []
    for variant in sorted(corpus, key=lambda v: CORPORA.index(v) if v in CORPORA else len(CORPORA)):
        for genre, values in corpus[variant].items():
            if not isinstance(values, dict):
                continue
            key = f"{source}: corpus.{variant}.{genre}"
            rows.append(
                [
                    label(variant),
                    label(genre),
                    *[
                        number_cell(values.get(k), 0, f"{key}.{k}")
                        for k in ("documents_in", "documents_out", "words_in", "words_out")
                    ],
                ]
            )
            for rule in (*(values.get("rejected") or {}), *(values.get("words_removed") or {})):
                if rule not in rules:
                    rules.append(rule)
    active = [
        r
        for r in rules
        if any(
            get(corpus, [v, g, kind, r]) for v in corpus for g in corpus[v] for kind in ("rejected", "words_removed")
        )
    ]
    for variant in corpus:
        for genre, values in corpus[variant].items():
            if not isinstance(values, dict):
                continue
            key = f"{source}: corpus.{variant}.{genre}"
            if not any(get(values, [kind, rule]) for rule in active for kind in ("rejected", "words_removed")):
                untouched.append(f"{variant}/{genre}")
                continue
            cells = [label(variant), label(genre)]
            for rule in active:
                docs, words = get(values, ["rejected", rule]), get(values, ["words_removed", rule])
                cells.append(
                    Cell(f"{fmt(docs, 0)} / {fmt(words, 0)}", f"{key}.rejected.{rule} / {key}.words_removed.{rule}")
                )
            rule_rows.append(cells)
    section.tables.append(
        Table(
            "Cleaning: documents and words in and out",
            ["variant", "genre", "documents in", "documents out", "words in", "words out"],
            rows,
            [f"{source}: corpus.<variant>.<genre>.<key>"],
        )
    )
    if active:
        idle = [r for r in rules if r not in active]
        notes = [f"Rules that removed nothing: {', '.join(idle)}."] if idle else []
        if untouched:
            notes.append(f"Nothing removed from: {', '.join(untouched)}.")
        section.tables.append(
            Table(
                "Cleaning per rule: documents rejected / words removed",
                ["variant", "genre", *active],
                rule_rows,
                [
                    f"{source}: corpus.<variant>.<genre>.rejected.<rule>",
                    f"{source}: corpus.<variant>.<genre>.words_removed.<rule>",
                ],
                notes,
            )
        )
    if clean.get("bad_records"):
        section.notes.append(f"Bad records skipped at ingest/clean: `{source}: bad_records` = {clean['bad_records']}.")


def _simplify(ctx: Context, simplify: dict, section: Section) -> None:
    source = ctx.name("simplify.json")
    rows = []
    groups = dict(simplify.get("genres") or {})
    if isinstance(simplify.get("total"), dict):
        groups["total"] = simplify["total"]
    for genre, values in groups.items():
        key = f"{source}: " + ("total" if genre == "total" else f"genres.{genre}")
        failures = values.get("failures") or {}
        rows.append(
            [
                label(genre),
                number_cell(values.get("documents_in"), 0, f"{key}.documents_in"),
                number_cell(values.get("documents_out"), 0, f"{key}.documents_out"),
                number_cell(values.get("word_ratio"), ctx.digits, f"{key}.word_ratio"),
                Cell(
                    "; ".join(f"{reason}: {count}" for reason, count in sorted(failures.items())) or "none",
                    f"{key}.failures",
                ),
                number_cell(values.get("llm_calls"), 0, f"{key}.llm_calls"),
                number_cell(values.get("estimated_cost"), 2, f"{key}.estimated_cost"),
            ]
        )
    section.tables.append(
        Table(
            f"Simplification (backend `{simplify.get('backend', '?')}`): kept and rejected documents",
            [
                "genre",
                "documents in",
                "documents out",
                "words out / words in",
                "rejected (reason: documents)",
                "LLM calls",
                "estimated cost (USD)",
            ],
            rows,
            [f"{source}: genres.<genre>.<key>", f"{source}: total.<key>"],
        )
    )


def _tokens(ctx: Context, compose: dict | None, pack: dict | None, tokenizer: dict | None, section: Section) -> None:
    rows = []
    splits = list(get(compose, "splits", {}) or {})
    for split in splits or list(next(iter((get(pack, "packs", {}) or {}).values()), {}) or {}):
        for corpus in CORPORA:
            cells = [label(split), label(corpus_label(corpus))]
            if compose:
                key = f"{ctx.name('compose.json')}: splits.{split}.corpora.{corpus}"
                values = get(compose, ["splits", split, "corpora", corpus], {}) or {}
                cells += [
                    number_cell(values.get("documents"), 0, f"{key}.documents"),
                    number_cell(values.get("tokens"), 0, f"{key}.tokens"),
                ]
            if pack:
                key = f"{ctx.name('pack.json')}: packs.{corpus}-causal.{split}"
                values = get(pack, ["packs", f"{corpus}-causal", split], {}) or {}
                cells += [
                    number_cell(values.get("blocks"), 0, f"{key}.blocks"),
                    number_cell(values.get("dropped_tokens"), 0, f"{key}.dropped_tokens"),
                ]
            rows.append(cells)
    header = ["split", "corpus"]
    sources = []
    if compose:
        header += ["documents", "tokens"]
        sources.append(f"{ctx.name('compose.json')}: splits.<split>.corpora.<corpus>.<key>")
    if pack:
        header += [f"blocks of {fmt(pack.get('block_size'), 0)} tokens", "tokens dropped (block ends)"]
        sources.append(f"{ctx.name('pack.json')}: packs.<corpus>-causal.<split>.<key>")
    notes = []
    if compose:
        notes.append(
            f"Token counts with the `{compose.get('count_with', '?')}` tokenizer; budget "
            f"{fmt(compose.get('budget_tokens'), 0)} tokens of `{compose.get('reference', '?')}` "
            f"(0 = every document) (`{ctx.name('compose.json')}: budget_tokens`)."
        )
    if tokenizer:
        key = ctx.name("tokenizer.json")
        ratios = [
            f"{family}: leaner {fmt(get(v, 'tokens_per_word.leaner'), 2)}, ori {fmt(get(v, 'tokens_per_word.ori'), 2)}"
            for family, v in (tokenizer.get("families") or {}).items()
            if isinstance(v, dict)
        ]
        if ratios:
            notes.append(
                f"Tokens per word ({key}: families.<family>.tokens_per_word.<corpus>): " + "; ".join(ratios) + "."
            )
    if rows and len(header) > 2:
        section.tables.append(
            Table("Pre-training data: documents, tokens and blocks per split", header, rows, sources, notes)
        )


def corpus_section(ctx: Context) -> Section | None:
    """The corpus section, or None when none of its metrics files exists."""
    section = Section(
        "corpus",
        "The corpus: original vs leaner text",
        "What the leaner corpus is, per genre, next to the original text it was simplified from, "
        "and what cleaning and simplification removed on the way.",
    )
    vocab = _read(ctx, "vocab.json", section)
    clean = _read(ctx, "clean.json", section)
    simplify = _read(ctx, "simplify.json", section)
    compose = _read(ctx, "compose.json", section)
    pack = _read(ctx, "pack.json", section)
    tokenizer = _read(ctx, "tokenizer.json", section)
    if not section.inputs:
        return None
    if vocab:
        _vocab(ctx, vocab, section)
    if clean:
        _clean(ctx, clean, section)
    if simplify:
        _simplify(ctx, simplify, section)
    if compose or pack:
        _tokens(ctx, compose, pack, tokenizer, section)
    missing = [
        n
        for n in ("vocab.json", "clean.json", "simplify.json", "compose.json", "pack.json")
        if ctx.name(n) not in section.inputs
    ]
    if missing:
        section.notes.append(f"Not found (stage not run): {', '.join(missing)}.")
    if vocab and all(is_number(get(vocab, [c, "all", "list_coverage"])) for c in CORPORA):
        section.notes.append(
            f"All genres: word-list coverage ori {fmt(vocab['ori']['all']['list_coverage'], ctx.digits)} vs leaner "
            f"{fmt(vocab['leaner']['all']['list_coverage'], ctx.digits)} "
            f"(`{ctx.name('vocab.json')}: <corpus>.all.list_coverage`)."
        )
    return section

"""Cleaning rules: small text -> text functions, each switchable and tunable in params.yaml (`clean:`).

Rules, in the order `clean_document` applies them:

- `unicode`: NFKC, control and zero-width characters removed, line endings unified, literal `\\n` escapes in
  prose turned into line breaks (an artefact of the released leaner wiki text);
- `markup`: HTML tags and comments, wiki templates/links/emphasis, entities, leftover LLM protocol markers
  (`<end>`, `EDITED:`); block tags become line breaks so paragraphs survive;
- `boilerplate`: short cookie/subscribe/share/navigation/promotion lines, short lines repeated within a
  document, and short lines shared by many documents of the genre (counted corpus-wide beforehand);
- `private_data`: e-mail addresses, URLs, IP addresses, phone numbers and card numbers (Luhn-checked) become
  generic stand-ins, so sentences stay readable;
- `language`: paragraphs confidently not English are dropped; a document mostly not English is rejected
  (see `tinyhelen.corpus.language`);
- `length`: documents shorter or longer than the limits are rejected.

Genre awareness: code keeps its code blocks (fenced, or indented as in Markdown) byte for byte (only the
prose around them is cleaned, but private data is scrubbed everywhere); math keeps its LaTeX (`$...$`,
`\\(...\\)`, `\\[...\\]`) and gets no boilerplate, private-data, language or length rule; conversation keeps
its quoted turns (only whitespace and markup are touched). Duplicates are handled corpus-wide in
`tinyhelen.corpus.clean`.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tinyhelen.core.release import instruction_text

PROSE_GENRES = ("web", "book", "wiki", "textbook", "conversation", "instruction")

# --------------------------------------------------------------------------------------------- unicode
# Zero-width and control characters (tab and line feed kept).
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e]")
_LITERAL_NEWLINE = re.compile(r"(?<!\\)\\n")


def normalize_unicode(text: str, prose: bool = True) -> str:
    """NFKC-normalise, unify line endings, drop control and zero-width characters.

    In prose, a literal two-character `\\n` becomes a real line break (code keeps it: it means something there).
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))
    if prose and "\\n" in text:
        text = _LITERAL_NEWLINE.sub("\n", text)
    return text


_SPACE_RUN = re.compile(" {2,}")
_ODD_SPACE = re.compile("[\u00a0\u2000-\u200a\u202f\u205f\u3000]")
_SPACES_AT_BREAKS = re.compile(r" \n ?|\n ")
_BLANK_LINES = re.compile(r"\n{3,}")


def repair_whitespace(text: str, strip_ends: bool = True) -> str:
    """Fold runs of spaces, strip line ends, keep paragraph breaks (at most one blank line).

    With `strip_ends=False` (a segment between protected code or LaTeX), the space before the segment's
    first line break and after its last one is folded but kept, so neighbours stay apart.
    """
    # Every horizontal space becomes " " (cheap literal passes), then runs of spaces fold.
    if "\t" in text:
        text = text.replace("\t", " ")
    if not text.isascii() and _ODD_SPACE.search(text):
        text = _ODD_SPACE.sub(" ", text)
    if "  " in text:
        text = _SPACE_RUN.sub(" ", text)
    if " \n" in text or "\n " in text:
        text = _SPACES_AT_BREAKS.sub("\n", text)
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip() if strip_ends else text


# ---------------------------------------------------------------------------------------------- markup
_BLOCK_TAGS = (
    "p|div|br|li|tr|h[1-6]|table|thead|tbody|ul|ol|dl|dt|dd|blockquote|section|article|header|"
    "footer|nav|aside|figure|figcaption|hr|pre|center|form"
)
_INLINE_TAGS = (
    "a|abbr|b|big|cite|code|del|em|font|i|img|ins|kbd|label|mark|nowiki|q|s|samp|small|span|"
    "strike|strong|sub|sup|td|th|time|tt|u|var|wbr|input|button|iframe|meta|link|source|video|audio|"
    "references|gallery|onlyinclude|includeonly|noinclude|poem|blockquote|caption|col|colgroup"
)
_DROP_WITH_CONTENT = re.compile(r"<(script|style|ref|noscript|math|svg)\b[^>]*>.*?</\1\s*>", re.I | re.S)
_SELF_CLOSING_REF = re.compile(r"<ref\b[^<>]*/>", re.I)
_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.S)
_BLOCK_TAG = re.compile(rf"</?(?:{_BLOCK_TAGS})\b[^<>]*/?>", re.I)
_INLINE_TAG = re.compile(rf"</?(?:{_INLINE_TAGS})\b[^<>]*/?>", re.I)
# A tag cut off by the end of a line or of the text (`<div class="x` with no `>`).
_BROKEN_TAG = re.compile(rf"</?(?:{_BLOCK_TAGS}|{_INLINE_TAGS})\b[^<>\n]*$", re.I | re.M)
_WIKI_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")
_WIKI_FILE_LINK = re.compile(r"\[\[(?:File|Image|Category):[^\[\]]*\]\]", re.I)
_WIKI_LINK = re.compile(r"\[\[(?:[^\[\]|]*\|)?([^\[\]|]*)\]\]")
_WIKI_EMPHASIS = re.compile(r"'{2,5}")
_WIKI_HEADING = re.compile(r"^=+\s*(.*?)\s*=+\s*$", re.M)
_LLM_MARKERS = re.compile(r"<\s*/?\s*(?:end|error_start|error_end|split)\s*>|^\s*EDITED\s*:\s*", re.I | re.M)


def strip_markup(text: str) -> str:
    """Remove HTML/wiki markup, decode entities, keep paragraph breaks.

    Nested and broken tags are handled: only known HTML tag names are touched, so `a < b` or `<T>` in
    prose and generics survive; an unterminated known tag at the end of a line is dropped.
    """
    # Each pass runs only when its trigger character is present: most documents have no markup at all.
    if "<" in text:
        text = _COMMENT.sub("", text)
        text = _DROP_WITH_CONTENT.sub("", text)
        text = _SELF_CLOSING_REF.sub("", text)
        text = _BLOCK_TAG.sub("\n", text)
        text = _INLINE_TAG.sub("", text)
        text = _BROKEN_TAG.sub("", text)
    if "<" in text or "EDITED" in text:
        text = _LLM_MARKERS.sub("", text)
    if "{{" in text or "}}" in text:
        previous = None
        while previous != text:  # innermost templates first, so nesting unwinds
            previous, text = text, _WIKI_TEMPLATE.sub("", text)
        text = text.replace("{{", "").replace("}}", "")
    if "[[" in text:
        text = _WIKI_FILE_LINK.sub("", text)
        text = _WIKI_LINK.sub(r"\1", text)
    if "''" in text:
        text = _WIKI_EMPHASIS.sub("", text)
    if "==" in text:
        text = _WIKI_HEADING.sub(r"\1", text)
    return html.unescape(text) if "&" in text else text


# ----------------------------------------------------------------------------------------- boilerplate
_BOILERPLATE = re.compile(
    r"cookie|accept all|accept \| decline|subscribe|newsletter|sign up|sign in|log in|register now|"
    r"share this|share on|share:|follow us|click here|read more|continue reading|all rights reserved|"
    r"copyright|\u00a9|privacy policy|terms of (?:use|service)|posted by|\d+ comments?\b|leave a (?:comment|reply)|"
    r"skip to (?:main )?content|back to top|advertisement|sponsored|related (?:posts|articles)|"
    r"^tags?:|print this|email this|% off\b|free shipping|buy now|shop now|download (?:now|our app)",
)  # lower case, matched against the lower-cased line: several times faster than re.I
_BREADCRUMB = re.compile(r"^\s*[\w'&-]+(?: [\w'&-]+)*(?:\s*[>»›|/]\s*[\w'&-]+(?: [\w'&-]+)*){2,}\s*$")


def line_key(line: str) -> str:
    """How lines are compared for repetition: case- and whitespace-insensitive."""
    return " ".join(line.lower().split())


def is_boilerplate_line(line: str, max_words: int) -> bool:
    """A short line that reads like site furniture: cookie banners, share bars, crumbs, promotions."""
    words = line.split()
    if not words or len(words) > max_words:
        return False
    return bool(_BOILERPLATE.search(line.lower()) or _BREADCRUMB.match(line))


def remove_boilerplate(
    text: str, max_words: int, min_repeats_in_doc: int, common_lines: frozenset[str] = frozenset()
) -> str:
    """Drop boilerplate lines: furniture patterns, short lines repeated in the document, and short lines
    shared across many documents (`common_lines`, keys from `line_key`)."""
    lines = text.split("\n")
    counts: dict[str, int] = {}
    for line in lines:
        key = line_key(line)
        if key:
            counts[key] = counts.get(key, 0) + 1
    kept = []
    for line in lines:
        key = line_key(line)
        short = 0 < len(key.split()) <= max_words
        if short and (is_boilerplate_line(line, max_words) or counts[key] >= min_repeats_in_doc or key in common_lines):
            continue
        kept.append(line)
    return "\n".join(kept)


# ---------------------------------------------------------------------------------------- private data
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")
_URL = re.compile(r"\b(?:(?:https?|ftp)://|www\.)[^\s<>\"'`]+", re.I)
_IPV4 = re.compile(
    r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\d.])"
)
_PHONE = re.compile(
    r"(?<![\w+(])(?:\+\d{1,3}[ -]?)?(?:\(\d{2,4}\)|\d{2,4})[ -]\d{3,4}[ -]\d{4}(?![\w-])"
    r"|(?<![\w.])\d{3}\.\d{3}\.\d{4}(?![\w.])"
)
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


@dataclass(frozen=True)
class StandIns:
    """Generic replacements for private data (the paper's own examples by default)."""

    email: str
    url: str
    phone: str
    ip: str
    card: str


# Private data is replaced in one pass per family, earlier alternatives first, so that a stand-in is never
# matched again. The precise patterns are slow to try at every position of a long text, so they run only in
# windows that can hold a match: e-mails and URLs have no whitespace and contain "@", "://" or "www.", so the
# window is the whitespace-delimited token around each of those (found with `str.find`); numbers are first
# located by a cheap scan (runs of digits and separators). Matches inside a window are the matches the
# pattern finds in the whole text (look-behinds see the text before a window; a window ends where the
# text or a token does).
_TEXTUAL = re.compile(f"(?P<email>{_EMAIL.pattern})|(?P<url>{_URL.pattern})", re.I)
_TEXTUAL_NEEDLES = ("@", "://", "w.", "W.")  # "w." and "W.": "www." in any case, checked in _token_windows
_NUMERIC = re.compile(f"(?P<ip>{_IPV4.pattern})|(?P<card>{_CARD.pattern})|(?P<phone>{_PHONE.pattern})")
_NUMBER_RUN = re.compile(r"\d[\d .()+-]{5,}\d")


def _break_before(text: str, position: int) -> int:
    """The start of the word around `position`: just after the last space, tab or line break before it."""
    return max(text.rfind(" ", 0, position), text.rfind("\n", 0, position), text.rfind("\t", 0, position)) + 1


def _break_after(text: str, position: int) -> int:
    """The end of the word around `position`: the next space, tab or line break at or after it."""
    ends = [end for end in (text.find(" ", position), text.find("\n", position), text.find("\t", position)) if end >= 0]
    return min(ends, default=len(text))


def _token_windows(text: str, needles: Iterable[str]) -> list[tuple[int, int]]:
    """Whitespace-delimited tokens of `text` that contain one of `needles`, in order, as (start, end)."""
    hits = []
    for needle in needles:
        position = text.find(needle)
        while position >= 0:
            if needle[0] in "wW":  # only "www." counts
                if position >= 2 and text[position - 2 : position + 2].lower() == "www.":
                    hits.append(position - 2)
            else:
                hits.append(position)
            position = text.find(needle, position + 1)
    windows: list[tuple[int, int]] = []
    for hit in sorted(hits):
        if windows and hit < windows[-1][1]:
            continue
        windows.append((_break_before(text, hit), _break_after(text, hit)))
    return windows


def _sub_in_windows(
    pattern: re.Pattern, replace: Callable[[re.Match], str], text: str, windows: Iterable[tuple[int, int]]
) -> str:
    """`pattern.sub(replace, text)`, trying the pattern only inside `windows` (ordered (start, end) pairs)."""
    parts, done = [], 0
    for start, end in windows:
        for match in pattern.finditer(text, max(done, start), end):
            parts.append(text[done : match.start()])
            parts.append(replace(match))
            done = match.end()
    if not parts:
        return text
    parts.append(text[done:])
    return "".join(parts)


def scrub_private(text: str, stand_ins: StandIns) -> str:
    """Replace e-mails, URLs, IPs, card numbers and phone numbers with stand-ins."""

    def replace(match: re.Match) -> str:
        kind, found = match.lastgroup, match.group(0)
        if kind == "url":
            trail = len(found) - len(found.rstrip(".,;:!?)]}'\""))
            return stand_ins.url + (found[len(found) - trail :] if trail else "")
        if kind == "card" and not _luhn_ok(re.sub(r"\D", "", found)):
            return found
        return getattr(stand_ins, kind)

    text = _sub_in_windows(_TEXTUAL, replace, text, _token_windows(text, _TEXTUAL_NEEDLES))
    # Around a number run: two characters before it (a "+" or "(" prefix, the look-behinds), one after.
    runs = ((max(0, run.start() - 2), min(len(text), run.end() + 1)) for run in _NUMBER_RUN.finditer(text))
    return _sub_in_windows(_NUMERIC, replace, text, runs)


# ---------------------------------------------------------------------------------- protected segments
_LATEX = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$|\\\(.*?\\\)|\\\[.*?\\\]", re.S)


def _fence_spans(text: str) -> list[tuple[int, int]]:
    """Spans of fenced code blocks (``` or ~~~ ... the same fence, or the end of the text)."""
    spans, position = [], 0
    while True:
        starts = [i for i in (text.find("```", position), text.find("~~~", position)) if i >= 0]
        if not starts:
            return spans
        start = min(starts)
        fence = text[start : start + 3]
        close = text.find(fence, start + 3)
        end = len(text) if close < 0 else close + 3
        spans.append((start, end))
        position = end


# A run of indented code lines (Markdown's indented code block: four spaces or a tab). A quarter of the
# release's code answers show their code this way, without fences.
_INDENTED_LINES = re.compile(r"^(?: {4}|\t)[^\n]*(?:\n(?: {4}|\t)[^\n]*)*", re.M)


@functools.lru_cache(maxsize=16)
def _code_spans(text: str) -> list[tuple[int, int]]:
    """Spans of fenced code blocks and of indented code lines, in order, overlaps merged (an indented fence).

    Cached: the rules ask for the spans of the same field text one after another, and most rules leave it
    unchanged (a str caches its hash, so the lookup is cheap).
    """
    spans = _fence_spans(text) if ("```" in text or "~~~" in text) else []
    if "\n    " not in text and "\n\t" not in text and not text.startswith(("    ", "\t")):
        return spans
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans + [match.span() for match in _INDENTED_LINES.finditer(text)]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


@functools.lru_cache(maxsize=16)
def _latex_spans(text: str) -> list[tuple[int, int]]:
    """Spans of LaTeX in math text (cached like `_code_spans`)."""
    return [match.span() for match in _LATEX.finditer(text)]


def strip_field(text: str, genre: str | None) -> str:
    """Strip a field's ends; in code, an indented first line keeps its indentation (it is code)."""
    if genre != "code":
        return text.strip()
    text = text.rstrip()
    body = len(text) - len(text.lstrip())
    indent = text[text.rfind("\n", 0, body) + 1 : body]
    return (indent if indent.startswith(("    ", "\t")) else "") + text[body:]


def _protected_spans(text: str, genre: str) -> list[tuple[int, int]]:
    if genre == "code":
        return _code_spans(text)
    if genre == "math":
        return _latex_spans(text) if ("$" in text or "\\" in text) else []
    return []


def map_unprotected(text: str, genre: str | None, fn: Callable[[str], str]) -> str:
    """Apply `fn` to the parts of `text` outside the genre's protected spans (code blocks, LaTeX)."""
    spans = _protected_spans(text, genre) if genre else []
    if not spans:
        return fn(text)
    parts, position = [], 0
    for start, end in spans:
        parts.append(fn(text[position:start]))
        parts.append(text[start:end])
        position = end
    parts.append(fn(text[position:]))
    return "".join(parts)


# ------------------------------------------------------------------------------------------- documents
#: The text fields cleaned per genre; `text` is rebuilt from them afterwards (as the release defines it).
TEXT_FIELDS = {
    "code": ("prompt", "response"),
    "math": ("problem", "hints"),
    "instruction": ("instruction", "input", "output"),
}


def rebuild_text(record: dict[str, Any]) -> str:
    """The document text from its structured fields, by the release's rule for the genre."""
    genre = record["genre"]
    if genre == "code":
        return f"{record['prompt']} {record['response']}"
    if genre == "math":
        return record["problem"] + " " + " ".join(record["hints"])
    if genre == "instruction":
        return instruction_text(record["instruction"], record["input"], record["output"])
    return record["text"]


@dataclass
class Outcome:
    """What cleaning did to one document: the record (None if rejected), the rejecting rule and reason,
    the words each editing rule removed, and the words of its text before cleaning (None when the text came
    out unchanged: then they are the kept text's, which the caller counts anyway)."""

    record: dict[str, Any] | None
    words_in: int | None = None
    rule: str | None = None
    reason: str | None = None
    words_removed: dict[str, int] = field(default_factory=dict)


def _field_values(record: dict[str, Any]) -> tuple[list[str], list[int | None]]:
    """A record's text fields as one flat list of strings (list fields spread out), and each field's length
    (None for a plain string), to put them back with `_with_fields`."""
    values: list[str] = []
    shape: list[int | None] = []
    for name in TEXT_FIELDS.get(record["genre"], ("text",)):
        value = record[name]
        if isinstance(value, list):
            values.extend(value)
            shape.append(len(value))
        else:
            values.append(value)
            shape.append(None)
    return values, shape


def _with_fields(record: dict[str, Any], values: list[str], shape: list[int | None]) -> dict[str, Any]:
    """A copy of `record` with its text fields taken from `values` (the inverse of `_field_values`)."""
    out = dict(record)
    position = 0
    for name, length in zip(TEXT_FIELDS.get(record["genre"], ("text",)), shape, strict=False):
        if length is None:
            out[name] = values[position]
            position += 1
        else:
            out[name] = values[position : position + length]
            position += length
    return out


def _common_prefix(a: str, b: str) -> int:
    """Length of the longest common prefix (binary search over slice comparisons, which run in C)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def words_removed(before: str, after: str) -> int:
    """`len(before.split()) - len(after.split())`, counting only around the part that differs.

    The texts are cut where they start and stop differing, widened to whitespace on both sides, so no word
    straddles a cut: the words outside the cuts are the same in both and cancel out.
    """
    start = _break_before(before, _common_prefix(before, after))
    tail = _common_prefix(before[start:][::-1], after[start:][::-1])
    end_before = _break_after(before, len(before) - tail)
    end_after = len(after) - (len(before) - end_before)
    return len(before[start:end_before].split()) - len(after[start:end_after].split())


def clean_document(record: dict[str, Any], cfg: Any, common_lines: frozenset[str] = frozenset()) -> Outcome:
    """Apply the enabled rules to one normalised record, in order.

    Args:
        record: a record from data/raw (its `genre` decides what each rule may touch).
        cfg: the `clean` params section (`tinyhelen.<phase>.config.CleanConfig`).
        common_lines: `line_key`s of short lines shared by many documents of this genre (boilerplate).

    Returns:
        The cleaned record with `text` rebuilt and the same `id`, or the rejecting rule and its reason.
    """
    genre = record["genre"]
    protect = genre if genre in ("code", "math") else None
    values, shape = _field_values(record)
    outcome = Outcome(record=None)

    def edit(rule: str, fn: Callable[[str], str], protect_code: bool = True, whitespace_only: bool = False) -> bool:
        nonlocal values
        pattern = protect if protect_code else None
        edited = [fn(v) if pattern is None else map_unprotected(v, pattern, fn) for v in values]
        # Words are counted only in the fields the rule changed (most rules leave most documents alone), and
        # never for a whitespace-only rule: it cannot change how many words there are.
        if not whitespace_only:
            removed = sum(
                words_removed(before, after) for before, after in zip(values, edited, strict=False) if after != before
            )
            if removed > 0:
                outcome.words_removed[rule] = outcome.words_removed.get(rule, 0) + removed
        values = edited
        if not any(v and not v.isspace() for v in values):
            outcome.rule, outcome.reason = rule, f"nothing left after the {rule} rule"
            return False
        return True

    def rejected() -> Outcome:
        outcome.words_in = len(record["text"].split())
        return outcome

    prose = genre in PROSE_GENRES
    if cfg.unicode.enabled and not edit("unicode", lambda t: normalize_unicode(t, prose=prose)):
        return rejected()
    if cfg.markup.enabled and not edit("markup", strip_markup):
        return rejected()
    if (
        cfg.boilerplate.enabled
        and genre in cfg.boilerplate.genres
        and not edit(
            "boilerplate",
            lambda t: remove_boilerplate(
                t, cfg.boilerplate.max_words, cfg.boilerplate.min_repeats_in_doc, common_lines
            ),
        )
    ):
        return rejected()
    if cfg.private_data.enabled and genre != "math":
        p = cfg.private_data
        stand_ins = StandIns(email=p.email, url=p.url, phone=p.phone, ip=p.ip, card=p.card)
        # Private data is scrubbed inside code too: a stand-in address keeps a string literal valid.
        if not edit("private_data", lambda t: scrub_private(t, stand_ins), protect_code=False):
            return rejected()
    if cfg.unicode.enabled:
        edit("unicode", lambda t: repair_whitespace(t, strip_ends=protect is None), whitespace_only=True)
        values = [strip_field(v, genre) for v in values]
    outcome.record = _with_fields(record, values, shape)
    if cfg.language.enabled and prose:
        if not _keep_english(outcome, cfg.language):
            outcome.record = None
            return rejected()
    cleaned = outcome.record
    cleaned["text"] = rebuild_text(cleaned)
    if cfg.length.enabled and genre in cfg.length.genres:
        size = len(cleaned["text"])
        if size < cfg.length.min_chars:
            outcome.rule, outcome.reason = "length", f"{size} characters < min_chars {cfg.length.min_chars}"
        elif size > cfg.length.max_chars:
            outcome.rule, outcome.reason = "length", f"{size} characters > max_chars {cfg.length.max_chars}"
        if outcome.rule:
            outcome.record = None
            return rejected()
    if cleaned["text"] != record["text"]:
        outcome.words_in = len(record["text"].split())
    return outcome


def _keep_english(outcome: Outcome, cfg: Any) -> bool:
    from tinyhelen.corpus.language import keep_english

    record = outcome.record
    if record["genre"] == "instruction":  # three short fields: judge them together, edit nothing
        _, reason = keep_english(rebuild_text(record), cfg.threshold, cfg.min_paragraph_chars, cfg.min_english_share)
        kept = None if reason else record["text"]
    else:
        kept, reason = keep_english(record["text"], cfg.threshold, cfg.min_paragraph_chars, cfg.min_english_share)
    if reason:
        outcome.rule, outcome.reason = "language", reason
        return False
    if record["genre"] != "instruction" and kept != record["text"]:
        removed = len(record["text"].split()) - len(kept.split())
        if removed:
            outcome.words_removed["language"] = outcome.words_removed.get("language", 0) + removed
        record["text"] = kept
    return True

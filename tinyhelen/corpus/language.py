"""Keep English: paragraph- and document-level language identification, offline.

The detector is py3langid (a maintained, numpy-vectorised fork of langid.py): its model ships inside the
wheel (4.5 MB), so it works offline; it is deterministic and covers 97 languages with normalised
probabilities. lingua was measured too: far slower here (0.03-0.06 MB/s against py3langid's ~0.8 MB/s on the
same paragraphs), which the clean stage's throughput target cannot afford.

Most English paragraphs never reach the detector: a paragraph in which English function words make up a
large share of the tokens is English beyond doubt (a cheap, exact test), and only the rest are classified.
"""

from __future__ import annotations

import functools
import logging
import os
import pickle
import re
from pathlib import Path

import zstandard

from tinyhelen.core.io import atomic_open

log = logging.getLogger(__name__)

#: Frequent English function words; a paragraph of English prose is typically 35-50% these.
_FUNCTION_WORDS = frozenset(
    "the of and to a in is that for it was on with as be by at this are from or have an not but they his her "
    "he she you we i which their will has had were been there what all can would so if one about my our your "
    "me do no its them than then when who also into more other some these".split()
)
_WORD = re.compile(r"[a-z']+")
#: The fast path looks at a paragraph's first ~100 words: plenty to tell English prose, and a book-length
#: paragraph costs no more than a short one.
_SAMPLE_CHARS = 600


def model_cache_path() -> Path:
    """Where the unpacked detector is cached: `$TINYHELEN_LANGID_CACHE`, else `.cache/langid/` (git-ignored,
    outside DVC's outputs), one file per py3langid version."""
    from importlib.metadata import version

    folder = Path(os.environ.get("TINYHELEN_LANGID_CACHE", Path(".cache") / "langid"))
    return folder / f"py3langid-{version('py3langid')}.pickle.zst"


@functools.lru_cache(maxsize=1)
def _identifier():
    """py3langid's detector with normalised probabilities.

    The wheel's model is xz-compressed, and unpacking it costs ~0.7 s, a fifth of cleaning the 10M corpus
    on two cores; so the unpacked detector is kept in a zstd-compressed pickle (~0.1 s to load). A cache that
    is missing, unreadable or from another version is rebuilt from the wheel.
    """
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    cache = model_cache_path()
    try:
        identifier = pickle.loads(zstandard.ZstdDecompressor().decompress(cache.read_bytes()))
        if isinstance(identifier, LanguageIdentifier):
            return identifier
    except FileNotFoundError:
        pass
    except Exception as error:  # noqa: BLE001 - any damage to the cache means: rebuild it
        log.warning("rebuilding the language model cache %s: %s", cache, error)
    identifier = LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)
    try:
        with atomic_open(cache, "wb") as handle:
            handle.write(zstandard.ZstdCompressor(level=1).compress(pickle.dumps(identifier, protocol=5)))
    except OSError as error:
        log.warning("cannot cache the language model at %s: %s", cache, error)
    return identifier


def preload_language_model() -> None:
    """Load the detector now (e.g. before forking workers, which then share it)."""
    _identifier()


def function_word_share(text: str, sample_chars: int = _SAMPLE_CHARS) -> float:
    """Share of word tokens that are English function words, in the first `sample_chars` characters."""
    words = _WORD.findall(text[:sample_chars].lower())
    return len(list(filter(_FUNCTION_WORDS.__contains__, words))) / len(words) if words else 0.0


def identify(text: str) -> tuple[str, float]:
    """(ISO 639-1 code, probability) of the text's language."""
    language, probability = _identifier().classify(text)
    return language, float(probability)


def foreign_language(text: str, threshold: float, english_share: float = 0.2) -> tuple[str, float] | None:
    """The (language, probability) if `text` is confidently not English, else None."""
    if function_word_share(text) >= english_share:
        return None
    language, probability = identify(text)
    return (language, probability) if language != "en" and probability >= threshold else None


def keep_english(
    text: str, threshold: float, min_paragraph_chars: int, min_english_share: float
) -> tuple[str | None, str | None]:
    """Drop confidently non-English paragraphs; reject the document if too little English is left.

    Args:
        text: the document (paragraphs are its lines).
        threshold: a paragraph counts as foreign only with the detector's probability at least this.
        min_paragraph_chars: shorter lines (titles, captions) are kept as they are: too short to judge.
        min_english_share: reject the document when less than this share of the judged characters is English.

    Returns:
        (the text without foreign paragraphs, None), or (None, reason) when the document is rejected.
    """
    lines = text.split("\n")
    judged = foreign_chars = 0
    kept, languages = [], {}
    for line in lines:
        if len(line) < min_paragraph_chars:
            kept.append(line)
            continue
        judged += len(line)
        verdict = foreign_language(line, threshold)
        if verdict is None:
            kept.append(line)
        else:
            foreign_chars += len(line)
            languages[verdict[0]] = languages.get(verdict[0], 0) + len(line)
    if judged == 0 and len(text) >= min_paragraph_chars // 2:
        # Only short lines: judge the document as a whole.
        verdict = foreign_language(" ".join(text.split()), threshold)
        if verdict is not None:
            return None, f"not English ({verdict[0]}, p={verdict[1]:.2f})"
        return text, None
    if judged and (judged - foreign_chars) / judged < min_english_share:
        main = max(languages, key=languages.get)
        return None, f"not English (mostly {main}: {foreign_chars} of {judged} judged characters)"
    return "\n".join(kept), None

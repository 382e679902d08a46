"""Offline sentence splitting: one place for the splitter every stage uses (chunking, sentence lengths).

NLTK's pretrained `punkt` data cannot be downloaded here, so three offline splitters are offered, chosen by
`sentences.splitter` in params.yaml:

- `spacy`: spaCy's rule-based `sentencizer` on a blank English pipeline (fast; splits on . ! ? and friends);
- `pysbd`: the pySBD rule set (handles abbreviations, lists and decimals well; about 2x slower);
- `punkt`: NLTK's Punkt algorithm, trained unsupervised on the texts given to `make_splitter`.

Every splitter first splits on line breaks (a line break always ends a sentence, as in the original
pipeline), then splits each non-empty line into sentences. `bench/sentence_agreement.py` measures how the
three agree on the corpus.

    split = make_splitter(params.sentences)
    split("Dr. Lee came at 5 p.m. today. She left.\\nBye!")
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Protocol

SPLITTERS = ("spacy", "pysbd", "punkt")


class SentencesSettings(Protocol):
    splitter: str


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@functools.lru_cache(maxsize=1)
def _spacy_pipeline():
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.max_length = 10**9  # the sentencizer is linear; long books are fine
    return nlp


def _spacy_split(line: str) -> list[str]:
    return [sent.text.strip() for sent in _spacy_pipeline()(line).sents if sent.text.strip()]


@functools.lru_cache(maxsize=1)
def _pysbd_segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False)


def _pysbd_split(line: str) -> list[str]:
    return [s.strip() for s in _pysbd_segmenter().segment(line) if s.strip()]


def train_punkt(texts: Iterable[str]) -> Callable[[str], list[str]]:
    """Train NLTK's Punkt model unsupervised on `texts` and return its line splitter."""
    from nltk.tokenize.punkt import PunktSentenceTokenizer, PunktTrainer

    trainer = PunktTrainer()
    for text in texts:
        trainer.train(text, finalize=False)
    trainer.finalize_training()
    tokenizer = PunktSentenceTokenizer(trainer.get_params())
    return lambda line: [s.strip() for s in tokenizer.tokenize(line) if s.strip()]


def make_splitter(
    settings: SentencesSettings | str, training_texts: Iterable[str] | None = None
) -> Callable[[str], list[str]]:
    """Return `split(text) -> list[str]` for the configured splitter.

    Args:
        settings: the `sentences` params section (or just the splitter's name).
        training_texts: texts to train Punkt on; required for `punkt`, ignored otherwise.
    """
    name = settings if isinstance(settings, str) else settings.splitter
    if name == "spacy":
        split_line = _spacy_split
    elif name == "pysbd":
        split_line = _pysbd_split
    elif name == "punkt":
        if training_texts is None:
            raise ValueError("the punkt splitter is trained on the corpus: pass training_texts")
        split_line = train_punkt(training_texts)
    else:
        raise ValueError(f"unknown sentence splitter '{name}' (choose from {', '.join(SPLITTERS)})")

    def split(text: str) -> list[str]:
        return [sentence for line in _lines(text) for sentence in split_line(line)]

    return split

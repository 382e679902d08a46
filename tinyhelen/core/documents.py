"""Reading the document corpora the later stages share: `data/leaner/`, `data/clean/ori/`, `data/composed/`.

Both corpora use data/raw's layout and record schema (see `tinyhelen.core.release`): one file per split and
genre, `<root>/<split>/<genre>.jsonl`, each line a document with at least `id`, `genre` and `text`.
`training_text` is the text a model is trained on: the paper's templates for code and math (spec §5.1),
the document text otherwise.

    for record in iter_documents(corpus_file(Path("data/leaner"), "train", "wiki")):
        training_text(record)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tinyhelen.core.errors import BadRecordError, DataError
from tinyhelen.core.io import iter_jsonl

#: The paper's templates for the formal-language genres (spec §5.1).
CODE_TEMPLATE = "### CODING INPUT:\n{input}\n\n### RESPONSE:\n{response}"
MATH_TEMPLATE = "### MATH INPUT:\n{input}\n\n### RESPONSE:\n{response}"


def corpus_file(root: Path, split: str, genre: str) -> Path:
    """`<root>/<split>/<genre>.jsonl`: one split and genre of a corpus (the one place this layout is spelled;
    ingest, clean, simplify and every reader use it)."""
    return Path(root) / split / f"{genre}.jsonl"


def instruction_file(root: Path) -> Path:
    """`<root>/instruction.jsonl`: a corpus's instruction records (one file, no splits)."""
    return Path(root) / "instruction.jsonl"


def iter_documents(path: Path, *, required: bool = False) -> Iterator[dict[str, Any]]:
    """Yield the documents of one corpus file, checking each has a string `id` and `text`.

    Args:
        path: the `.jsonl` file.
        required: a missing file is an error (True) or simply holds no documents (False).

    Raises:
        BadRecordError: a line is not JSON or not a document (`file:line: ...`).
        DataError: the file is missing and `required`.
    """
    if not path.is_file():
        if required:
            raise DataError(f"{path}: no such corpus file")
        return
    for lineno, record in iter_jsonl(path):
        if (
            not isinstance(record, dict)
            or not isinstance(record.get("id"), str)
            or not isinstance(record.get("text"), str)
        ):
            raise BadRecordError(f"{path}:{lineno}: a document needs string fields 'id' and 'text'")
        yield record


def training_text(record: dict[str, Any]) -> str:
    """The text a model trains on: code and math in the paper's templates, other genres as they are."""
    genre = record.get("genre")
    if genre == "code" and isinstance(record.get("prompt"), str) and isinstance(record.get("response"), str):
        return CODE_TEMPLATE.format(input=record["prompt"], response=record["response"])
    if genre == "math" and isinstance(record.get("problem"), str) and isinstance(record.get("hints"), list):
        return MATH_TEMPLATE.format(input=record["problem"], response="\n".join(map(str, record["hints"])))
    return record["text"]

"""Streaming readers and atomic writers for JSON Lines, JSON arrays and their zstd-compressed forms.

Readers never load a whole file: `.jsonl[.zst]` is read line by line, `.json[.zst]` arrays item by item
(ijson). A malformed record raises `BadRecordError` naming `file:line` (or `file[#item]`), or is skipped and
counted; a file readable only up to some point (a truncated or corrupt .zst) raises `DamagedFileError` after
yielding everything before the damage. Writers go to a temporary file in the same folder, then rename, so a
crash never leaves a half-written output.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import ijson
import orjson
import zstandard

from tinyhelen.core.errors import BadRecordError, DamagedFileError

log = logging.getLogger(__name__)


@contextlib.contextmanager
def open_binary(path: Path) -> Iterator[IO[bytes]]:
    """Open a file for reading bytes, decompressing `.zst` on the fly."""
    with open(path, "rb") as raw:
        if path.name.endswith(".zst"):
            reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
            with reader:
                yield io.BufferedReader(reader)
        else:
            yield raw


def _damage(path: Path, error: Exception, recovered: int) -> DamagedFileError:
    return DamagedFileError(f"{path}: damaged after {recovered} records ({error})", recovered)


class SkipCounter:
    """Counts skipped records per file; the policy passed to readers when bad records are skipped."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def __call__(self, error: BadRecordError, path: Path) -> None:
        self.counts[str(path)] = self.counts.get(str(path), 0) + 1
        log.warning("skipped bad record: %s", error)


OnBad = Callable[[BadRecordError, Path], None] | None


def handle_bad_record(error: BadRecordError, path: Path, on_bad: OnBad) -> None:
    """The bad-record policy in one place: raise the error, or hand it to `on_bad` (skip and count)."""
    if on_bad is None:
        raise error
    on_bad(error, path)


def decode_line(path: Path, lineno: int, line: bytes) -> Any:
    """One JSON Lines record (orjson: several times faster than the json module).

    Raises:
        BadRecordError: the line is not valid JSON (or not UTF-8), naming `path:lineno`.
    """
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise BadRecordError(f"{path}:{lineno}: invalid JSON: {error}") from None


def iter_jsonl(path: Path, on_bad: OnBad = None) -> Iterator[tuple[int, Any]]:
    """Yield `(line_number, record)` from a `.jsonl` or `.jsonl.zst` file.

    Args:
        path: the file.
        on_bad: called with each malformed line's error instead of raising it (None: raise).

    Raises:
        BadRecordError: a line is not valid JSON and `on_bad` is None.
        DamagedFileError: the file cannot be read past some point; the records before it were yielded.
    """
    recovered = 0
    lineno = 0
    try:
        with open_binary(path) as handle:
            for lineno, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = decode_line(path, lineno, line)
                except BadRecordError as error:
                    if not line.endswith(b"\n") and path.name.endswith(".zst"):
                        # A compressed stream that stops mid-line was cut short, not written badly.
                        raise _damage(path, f"stream ends inside line {lineno}", recovered) from None
                    handle_bad_record(error, path, on_bad)
                    continue
                recovered += 1
                yield lineno, record
    except zstandard.ZstdError as error:
        raise _damage(path, error, recovered) from None


def iter_json_array(path: Path) -> Iterator[tuple[int, Any]]:
    """Yield `(item_number, item)` from a file holding one JSON array (`.json` or `.json.zst`), streaming.

    Raises:
        DamagedFileError: the array is cut short or not valid JSON past some item.
    """
    recovered = 0
    try:
        with open_binary(path) as handle:
            for number, item in enumerate(ijson.items(handle, "item", use_float=True), start=1):
                recovered += 1
                yield number, item
    except (zstandard.ZstdError, ijson.JSONError) as error:
        raise _damage(path, error, recovered) from None


def iter_records(path: Path, on_bad: OnBad = None) -> Iterator[tuple[str, Any]]:
    """Yield `(origin, record)` from any supported file; origin is `path:line` or `path[#item]`."""
    if path.name.endswith((".json", ".json.zst")):
        for number, item in iter_json_array(path):
            yield f"{path}[#{number}]", item
    else:
        for lineno, record in iter_jsonl(path, on_bad):
            yield f"{path}:{lineno}", record


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside `path`; on success it replaces `path`, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-")
    try:
        with open(fd, mode, encoding=None if "b" in mode else "utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def encode_line(record: Any) -> bytes:
    """One JSON Lines line as UTF-8 bytes: compact, non-ASCII kept as is, newline-terminated (orjson)."""
    return orjson.dumps(record, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_APPEND_NEWLINE)


def dumps_line(record: Any) -> str:
    """`encode_line` as text, for files opened in text mode."""
    return encode_line(record).decode("utf-8")


def write_jsonl(path: str | Path, records: Iterable[Any]) -> int:
    """Write records as JSON Lines, atomically; return how many were written."""
    count = 0
    with atomic_open(path) as handle:
        for record in records:
            handle.write(dumps_line(record))
            count += 1
    return count


def write_json(path: str | Path, obj: Any) -> None:
    """Write pretty JSON (sorted keys off: insertion order is meaningful), atomically."""
    with atomic_open(path) as handle:
        json.dump(obj, handle, ensure_ascii=False, indent=2)
        handle.write("\n")


def read_json(path: str | Path) -> Any:
    """Read a JSON file."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def sha256_file(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Build a folder under a temporary name beside `path`; on success it replaces `path` whole.

    On error the temporary folder is removed and an existing `path` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-"))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if path.exists():
        old = path.with_name(f".{path.name}.old-{os.getpid()}")
        os.replace(path, old)
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, path)

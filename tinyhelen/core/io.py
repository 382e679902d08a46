"""Streaming readers and atomic writers for JSON Lines, JSON arrays and their zstd-compressed forms.

Readers never load a whole file: `.jsonl[.zst]` is read line by line, `.json[.zst]` arrays item by item
(ijson). A malformed record raises `BadRecordError` naming `file:line` (or `file[#item]`), or is skipped and
counted; a file readable only up to some point (a truncated or corrupt .zst) raises `DamagedFileError` after
yielding everything before the damage. Writers go to a temporary file in the same folder, then rename, so a
crash never leaves a half-written output.
"""

from __future__ import annotations

import contextlib
import glob
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


class ZstdFrames(io.RawIOBase):
    """The decompressed bytes of every zstd frame of a file, in turn, as a raw stream.

    zstandard's `stream_reader` stops quietly when the file ends inside a frame, so a truncated file reads as a
    shorter one. This reader decodes frame by frame and raises `zstandard.ZstdError` at the end of the file
    when the last frame is incomplete, or when the file holds no frame at all (an empty file).
    """

    _CHUNK = 1 << 17

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self._raw = raw
        self._dctx = zstandard.ZstdDecompressor()
        self._frame: Any = None  # the decompressor of a frame begun but not yet ended
        self._frames = 0
        self._out = bytearray()
        self._pos = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._pos >= len(self._out):
            if self._done:
                return 0
            self._out, self._pos = bytearray(), 0
            self._fill()
        count = min(len(buffer), len(self._out) - self._pos)
        buffer[:count] = self._out[self._pos : self._pos + count]
        self._pos += count
        return count

    def _fill(self) -> None:
        data = self._raw.read(self._CHUNK)
        if not data:
            if self._frame is not None:
                raise zstandard.ZstdError("the file ends inside a zstd frame (truncated)")
            if not self._frames:
                raise zstandard.ZstdError("no zstd frame (empty file)")
            self._done = True
            return
        while data:
            if self._frame is None:
                self._frame = self._dctx.decompressobj()
            self._out += self._frame.decompress(data)
            if self._frame.eof:
                self._frames += 1
                data = self._frame.unused_data
                self._frame = None
            else:
                data = b""


@contextlib.contextmanager
def open_binary(path: Path) -> Iterator[IO[bytes]]:
    """Open a file for reading bytes, decompressing `.zst` on the fly (an incomplete last frame or an empty
    `.zst` file raises `zstandard.ZstdError` when the reader gets there)."""
    with open(path, "rb") as raw:
        if path.name.endswith(".zst"):
            yield io.BufferedReader(ZstdFrames(raw))
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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Remove what killed runs left beside `path`: `.<name>.tmp-<pid>-*` and `.<name>.old-<pid>` of processes
    that are gone (and unnamed ones from older versions). A live process's temporaries are left alone.

    Returns:
        The paths removed.
    """
    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    for kind in ("tmp", "old"):
        for stale in path.parent.glob(f".{glob.escape(path.name)}.{kind}-*"):
            pid = stale.name[len(f".{path.name}.{kind}-") :].split("-", 1)[0]
            if pid.isdigit() and (int(pid) == os.getpid() or _pid_alive(int(pid))):
                continue
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    stale.unlink()
            removed.append(stale)
    if removed:
        log.info(
            "removed %d stale temporar%s of %s left by a killed run",
            len(removed),
            "y" if len(removed) == 1 else "ies",
            path,
        )
    return removed


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside `path`; on success it replaces `path`, on error it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-{os.getpid()}-")
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
    remove_stale_temporaries(path)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp-{os.getpid()}-"))
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

"""Where a binary body goes: a path (atomically), a caller's file object, or memory."""

from __future__ import annotations

import contextlib
import io
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO, BinaryIO, NamedTuple, Protocol

from ..errors import DownloadError

TEMP_PREFIX = ".tcia-partial-"


class Download(NamedTuple):
    """What a binary endpoint wrote: where, how many bytes, and what the server called it."""

    path: Path | None
    bytes_written: int
    content_type: str
    filename: str | None


class Sink(Protocol):
    """Receives a body in chunks. ``restartable`` is True while a retry may start over."""

    @property
    def restartable(self) -> bool: ...

    @property
    def bytes_written(self) -> int: ...

    def write(self, chunk: bytes) -> None: ...

    def restart(self) -> None: ...

    def commit(self) -> None: ...

    def abort(self) -> None: ...

    def value(self) -> bytes | None:
        """The body itself for an in-memory sink; None where it went to a file."""

    def over(self, limit: int) -> bool:
        """True when this sink holds more than ``limit`` bytes in memory (files are not bounded)."""


class PathSink:
    """Writes to a temporary file beside ``path`` and renames it into place only when complete.

    A failure or an interruption never leaves a partial file at ``path``: a failure removes the
    temporary file; a kill -9 can leave a ``.tcia-partial-*.part`` beside it (the download engine
    clears its own temporary folder at the start of every run). ``durable``
    also fsyncs before the rename, so the file survives a power cut; the download engine turns it
    off for its throwaway zips, which it verifies and deletes at once.
    """

    def __init__(self, path: Path, durable: bool = True) -> None:
        self.path = path
        self.durable = durable
        with _writing(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            # Created with mode 0666 so the umask applies, as for any file a program writes
            # (tempfile.mkstemp would leave it -rw------- for everyone else).
            while True:
                tmp = path.parent / f"{TEMP_PREFIX}{secrets.token_hex(6)}.part"
                try:
                    fd = os.open(
                        tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666
                    )
                except FileExistsError:
                    continue
                break
        self._tmp = tmp
        self._file: BinaryIO = os.fdopen(fd, "wb")
        self.bytes_written = 0

    @property
    def restartable(self) -> bool:
        return True

    def write(self, chunk: bytes) -> None:
        with _writing(self.path):
            self._file.write(chunk)
        self.bytes_written += len(chunk)

    def restart(self) -> None:
        with _writing(self.path):
            self._file.seek(0)
            self._file.truncate()
        self.bytes_written = 0

    def commit(self) -> None:
        with _writing(self.path):
            self._file.flush()
            if self.durable:
                os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self._tmp, self.path)

    def abort(self) -> None:
        if not self._file.closed:
            # A full disk may refuse the final flush; the file is removed anyway.
            with contextlib.suppress(OSError):
                self._file.close()
        self._tmp.unlink(missing_ok=True)

    def value(self) -> bytes | None:
        return None

    def over(self, limit: int) -> bool:
        return False


class FileObjectSink:
    """Writes into the caller's file object: bytes reach the caller at once, so no restart."""

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file
        self.bytes_written = 0

    @property
    def restartable(self) -> bool:
        return self.bytes_written == 0

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self.bytes_written += len(chunk)

    def restart(self) -> None:
        if self.bytes_written:
            raise RuntimeError("cannot restart a download that reached the caller's file")

    def commit(self) -> None:
        self._file.flush()

    def abort(self) -> None:
        return None

    def value(self) -> bytes | None:
        return None

    def over(self, limit: int) -> bool:
        return False


class MemorySink:
    """Collects a small body (one DICOM instance) in memory."""

    def __init__(self) -> None:
        self._buffer = io.BytesIO()

    @property
    def restartable(self) -> bool:
        return True

    @property
    def bytes_written(self) -> int:
        return self._buffer.tell()

    def write(self, chunk: bytes) -> None:
        self._buffer.write(chunk)

    def restart(self) -> None:
        self._buffer = io.BytesIO()

    def commit(self) -> None:
        return None

    def abort(self) -> None:
        return None

    def value(self) -> bytes | None:
        return self._buffer.getvalue()

    def over(self, limit: int) -> bool:
        return self._buffer.tell() > limit


class ProgressSink:
    """Reports the bytes written to another sink (and takes them back when it restarts)."""

    def __init__(self, inner: Sink, report: Callable[[int], None]) -> None:
        self._inner = inner
        self._report = report
        self._written = 0

    @property
    def restartable(self) -> bool:
        return self._inner.restartable

    @property
    def bytes_written(self) -> int:
        return self._written

    def write(self, chunk: bytes) -> None:
        self._inner.write(chunk)
        self._written += len(chunk)
        self._report(len(chunk))

    def restart(self) -> None:
        self._inner.restart()
        if self._written:
            self._report(-self._written)
        self._written = 0

    def commit(self) -> None:
        self._inner.commit()

    def abort(self) -> None:
        self._inner.abort()

    def value(self) -> bytes | None:
        return self._inner.value()

    def over(self, limit: int) -> bool:
        return self._inner.over(limit)


class _writing:
    """Turns an OSError writing ``path`` into a DownloadError that names the file and the cause."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, OSError):
            reason = exc.strerror or type(exc).__name__
            raise DownloadError(f"cannot write {self.path}: {reason}") from exc


_FILENAME = re.compile(r"""filename\*?=(?:UTF-8''|"?)([^";]+)"?""", re.IGNORECASE)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def sanitize_filename(name: str | None) -> str | None:
    """A server-provided file name reduced to a safe base name (no directories, no dot-files)."""
    if not name:
        return None
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).lstrip(".")
    return base[:200] or None


def content_disposition_filename(header: str | None) -> str | None:
    if not header:
        return None
    match = _FILENAME.search(header)
    return sanitize_filename(match.group(1).strip()) if match else None

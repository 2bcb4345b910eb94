"""Reading the files users name: bounded, never blocking, regular files only.

Every place that reads a path a user gave (policy, included and list files, policy
test files, request files and stdin, audit logs, key files) goes through here, so
that each gets the same guarantees:

- only a regular file is read. A FIFO, a device, a socket or a folder is refused
  before a byte is read: a FIFO would block the reader forever waiting for a writer,
  ``/dev/zero`` never ends. The file is checked with ``stat`` before it is opened
  (opening some devices has effects) and opened with ``O_NONBLOCK`` and checked again
  with ``fstat`` (the name may have been swapped in between);
- at most ``limit + 1`` bytes are read, and a file over its limit is refused whole:
  never a prefix, which could drop a policy's trailing deny rules;
- every way a path can fail (a NUL byte, a name too long, a symbolic link loop, a
  missing file, no permission, an I/O error) is an ``InputFileError`` with a stable
  ``code``, never a bare ``ValueError``, ``OSError`` or ``RuntimeError``.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from pathlib import Path
from typing import Final

from ._errors import UsePolicyError

__all__ = [
    "InputFileError",
    "open_regular",
    "read_bytes",
    "read_stdin",
    "read_text",
    "resolved",
    "too_large",
]

_MiB: Final = 1024 * 1024
_NOT_FOUND: Final = frozenset({errno.ENOENT, errno.ENOTDIR})
_NONBLOCK: Final[int] = getattr(os, "O_NONBLOCK", 0)  # POSIX; Windows has no FIFOs to open
_FLAGS: Final[int] = (
    os.O_RDONLY
    | _NONBLOCK
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOCTTY", 0)  # a terminal named as a file must not become ours
    | getattr(os, "O_BINARY", 0)  # Windows would otherwise translate line ends
)
_KINDS: Final = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)

FilePath = str | os.PathLike[str]


class InputFileError(UsePolicyError, OSError):
    """A file a user named cannot be read safely.

    ``code`` is one of ``file-not-found`` (no such file, or a folder),
    ``file-unreadable`` (not a regular file, a name the system refuses, no
    permission, an I/O error), ``too-large`` and ``bad-encoding``. ``reason`` reads
    after the file's name ("is a named pipe (FIFO), not a regular file"). It is an
    ``OSError`` too, so code that already handles unreadable files handles it.
    """

    def __init__(self, path: str, code: str, reason: str, errno_: int | None = None) -> None:
        OSError.__init__(self, errno_, reason, path)
        self.path = path
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"

    @classmethod
    def of(cls, path: FilePath, exc: OSError | ValueError) -> InputFileError:
        """The error of ``exc``, raised by an operation on ``path``."""
        return exc if isinstance(exc, InputFileError) else _os_error(os.fspath(path), exc)


def _size(limit: int) -> str:
    if limit % _MiB == 0:
        return f" ({limit // _MiB} MiB)"
    return f" ({limit // 1024} KiB)" if limit % 1024 == 0 else ""


def too_large(path: str, limit: int, size: int | None) -> InputFileError:
    """The error of a file over ``limit`` bytes (``size`` when it is known)."""
    what = f"is {size:,} bytes; the limit is" if size is not None else "is over the limit of"
    return InputFileError(path, "too-large", f"{what} {limit:,} bytes{_size(limit)}")


def _os_error(path: str, exc: OSError | ValueError) -> InputFileError:
    if isinstance(exc, ValueError):  # the only ValueError a path raises: an embedded NUL
        return InputFileError(path, "file-unreadable", "has a NUL byte in its name")
    code = exc.errno
    if code in _NOT_FOUND:
        return InputFileError(path, "file-not-found", "does not exist", code)
    if code == errno.EISDIR:
        return InputFileError(path, "file-not-found", "is a folder, not a file", code)
    if code == errno.ENAMETOOLONG:
        return InputFileError(path, "file-unreadable", "has a name too long for the system", code)
    if code == errno.ELOOP:
        return InputFileError(
            path, "file-unreadable", "is a symbolic link loop (too many levels of links)", code
        )
    why = (exc.strerror or type(exc).__name__).lower()
    return InputFileError(path, "file-unreadable", f"cannot be read: {why}", code)


def _check_regular(path: str, mode: int) -> None:
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise InputFileError(path, "file-not-found", "is a folder, not a file", errno.EISDIR)
    kind = next((name for test, name in _KINDS if test(mode)), "a special file")
    raise InputFileError(path, "file-unreadable", f"is {kind}, not a regular file")


def open_regular(path: FilePath) -> int:
    """Open a regular file for reading, without ever blocking on a FIFO.

    Returns:
        A file descriptor in blocking mode (the caller closes it). Meant as well for
        files read as a stream (audit logs), which have no size limit.

    Raises:
        InputFileError: the path names no regular file, or cannot be opened.
    """
    name = os.fspath(path)
    try:
        _check_regular(name, os.stat(name).st_mode)
        fd = os.open(name, _FLAGS)
    except (OSError, ValueError) as exc:
        raise InputFileError.of(name, exc) from exc
    try:
        _check_regular(name, os.fstat(fd).st_mode)
        if _NONBLOCK:
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _read_fd(fd: int, name: str, limit: int, size: int | None) -> bytes:
    if size is not None and size > limit:
        raise too_large(name, limit, size)
    chunks: list[bytes] = []
    left = limit + 1
    try:
        while left > 0:
            chunk = os.read(fd, min(left, _MiB))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise _os_error(name, exc) from exc
    data = b"".join(chunks)
    if len(data) > limit:  # the file grew since fstat, or its size is not known
        raise too_large(name, limit, None)
    return data


def read_bytes(path: FilePath, limit: int) -> bytes:
    """The whole content of a regular file of at most ``limit`` bytes.

    Raises:
        InputFileError: the file cannot be read, or is over ``limit`` (``too-large``).
    """
    fd = open_regular(path)
    try:
        return _read_fd(fd, os.fspath(path), limit, os.fstat(fd).st_size)
    finally:
        os.close(fd)


def read_text(path: FilePath, limit: int) -> str:
    """``read_bytes`` decoded as UTF-8 (the limit counts bytes, not characters).

    Raises:
        InputFileError: as ``read_bytes``, or ``bad-encoding``.
    """
    raw = read_bytes(path, limit)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(
            os.fspath(path), "bad-encoding", f"is not UTF-8 ({exc.reason} at byte {exc.start})"
        ) from None


def read_stdin(limit: int, name: str = "<stdin>") -> bytes:
    """Standard input, up to ``limit`` bytes. It may be a pipe or a terminal (then this
    waits for its end, as a user piping a request expects), but never more than
    ``limit + 1`` bytes are read: ``< /dev/zero`` is refused, not swallowed.

    Raises:
        InputFileError: stdin cannot be read, or holds more than ``limit`` bytes.
    """
    try:
        data = sys.stdin.buffer.read(limit + 1)
    except (AttributeError, OSError, ValueError) as exc:  # closed, replaced or a folder
        if isinstance(exc, OSError):
            raise _os_error(name, exc) from exc
        raise InputFileError(name, "file-unreadable", "cannot be read: no standard input") from None
    if len(data) > limit:
        raise too_large(name, limit, None)
    return data


def resolved(path: FilePath) -> Path:
    """The absolute path with symbolic links resolved, as an identity for a file.

    Never raises: a path the system refuses (a NUL byte, a link loop) is returned
    absolute as it is, and reading it reports why.
    """
    try:
        return Path(path).resolve()
    except (OSError, ValueError, RuntimeError):  # RuntimeError: a link loop (Python < 3.13)
        return Path(path).absolute()

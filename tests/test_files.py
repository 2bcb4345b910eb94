"""The one reader of files users name: bounded, never blocking, regular files only."""

from __future__ import annotations

import io
import os
import socket
import sys
from pathlib import Path

import pytest

from usepolicy import UsePolicyError
from usepolicy._files import InputFileError, read_bytes, read_stdin, read_text, resolved

from .conftest import unblocked


def refused(path: str | Path, limit: int = 100) -> InputFileError:
    with pytest.raises(InputFileError) as info:
        read_bytes(path, limit)
    return info.value


def test_a_file_up_to_its_limit_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    assert read_bytes(path, 100) == b"x" * 100
    assert read_bytes(str(path), 1000) == b"x" * 100


def test_a_file_over_its_limit_is_refused_never_cut(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 101)
    error = refused(path)
    assert error.code == "too-large"
    assert error.reason == "is 101 bytes; the limit is 100 bytes"


def test_the_limit_counts_bytes_not_characters(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text("€" * 40, encoding="utf-8")  # 40 characters, 120 bytes
    with pytest.raises(InputFileError) as info:
        read_text(path, 100)
    assert info.value.code == "too-large"
    assert read_text(path, 120) == "€" * 40


def test_text_that_is_not_utf8_is_bad_encoding(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"ok\xff")
    with pytest.raises(InputFileError) as info:
        read_text(path, 100)
    assert info.value.code == "bad-encoding"
    assert "at byte 2" in info.value.reason


def test_a_fifo_is_refused_without_waiting_for_a_writer(fifo: Path) -> None:
    error = unblocked(lambda: refused(fifo), fifo)
    assert error.code == "file-unreadable"
    assert error.reason == "is a named pipe (FIFO), not a regular file"


def test_a_symlink_to_a_fifo_is_refused(fifo: Path, tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(fifo)
    assert unblocked(lambda: refused(link), fifo).code == "file-unreadable"


@pytest.mark.parametrize(
    ("path", "code", "reason"),
    [
        ("/dev/zero", "file-unreadable", "is a character device, not a regular file"),
        ("/dev/null", "file-unreadable", "is a character device, not a regular file"),
        ("/", "file-not-found", "is a folder, not a file"),
    ],
)
def test_special_files_and_folders_are_refused(path: str, code: str, reason: str) -> None:
    error = refused(path)
    assert (error.code, error.reason) == (code, reason)


def test_a_socket_is_refused() -> None:
    path = Path("/tmp") / f"usepolicy-{os.getpid()}.sock"  # AF_UNIX names are short
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        try:
            assert refused(path).reason == "is a socket, not a regular file"
        finally:
            path.unlink()


def test_every_path_error_has_a_code(tmp_path: Path) -> None:
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    (tmp_path / "file").write_text("")
    cases = {
        str(tmp_path / "a\0b"): ("file-unreadable", "has a NUL byte in its name"),
        str(tmp_path / ("x" * 300)): ("file-unreadable", "has a name too long for the system"),
        str(tmp_path / "loop1"): (
            "file-unreadable",
            "is a symbolic link loop (too many levels of links)",
        ),
        str(tmp_path / "absent"): ("file-not-found", "does not exist"),
        str(tmp_path / "file" / "below"): ("file-not-found", "does not exist"),
    }
    for path, expected in cases.items():
        error = refused(path)
        assert (error.code, error.reason) == expected, path
        assert error.path == path
        assert str(error) == f"{path}: {error.reason}"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files without permission")
def test_no_permission_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("x")
    path.chmod(0)
    error = refused(path)
    assert (error.code, error.reason) == ("file-unreadable", "cannot be read: permission denied")


def test_the_error_is_a_usepolicy_error_and_an_oserror(tmp_path: Path) -> None:
    error = refused(tmp_path / "absent")
    assert isinstance(error, UsePolicyError) and isinstance(error, OSError)
    assert error.filename == str(tmp_path / "absent")
    assert error.strerror == "does not exist"


class _Zeros(io.RawIOBase):
    """An endless stream, like ``< /dev/zero``, counting what was taken from it."""

    def __init__(self) -> None:
        self.taken = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        size = len(buffer)
        buffer[:size] = bytes(size)
        self.taken += size
        return size


def test_stdin_is_read_up_to_its_limit_plus_one(monkeypatch: pytest.MonkeyPatch) -> None:
    zeros = _Zeros()
    stdin = io.TextIOWrapper(io.BufferedReader(zeros, buffer_size=64))
    monkeypatch.setattr(sys, "stdin", stdin)
    with pytest.raises(InputFileError) as info:
        read_stdin(1000)
    assert info.value.code == "too-large"
    assert info.value.reason == "is over the limit of 1,000 bytes"
    assert zeros.taken <= 1001 + 64  # what was asked for, and one buffer at most


def test_stdin_within_its_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"{}")))
    assert read_stdin(2) == b"{}"


def test_sizes_are_said_in_mib_where_they_fit(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * (2 * 1024 * 1024 + 1))
    assert refused(path, 2 * 1024 * 1024).reason.endswith("the limit is 2,097,152 bytes (2 MiB)")
    assert refused(path, 64 * 1024).reason.endswith("(64 KiB)")


def test_resolved_never_raises(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "real").write_text("")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert resolved(tmp_path / "link") == (tmp_path / "real").resolve()
    assert resolved(tmp_path / "loop") == tmp_path / "loop"
    assert resolved(tmp_path / "a\0b") == tmp_path / "a\0b"

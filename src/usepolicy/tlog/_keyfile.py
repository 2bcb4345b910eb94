"""Note key files: the signer key (secret, mode 0600) and its verifier key beside it."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from ._note import NoteSigner

__all__ = ["generate_note_key"]


def generate_note_key(
    path: str | os.PathLike[str], name: str, *, witness: bool = False, overwrite: bool = False
) -> tuple[NoteSigner, Path, Path]:
    """Make a note key named ``name``: the signer key at ``path`` (mode 0600) and the
    verifier key at ``path.pub``, both one line in Go's ``sumdb/note`` format.

    Args:
        path: the signer key file.
        name: the key's name (a schema-less URL such as ``example.com/audit``; for a
            log's key, its checkpoints' origin).
        witness: write the witness form of the verifier key (type 0x04, for
            ``cosignature/v1``) instead of the log form (type 0x01).
        overwrite: replace existing files.

    Raises:
        NoteError: a bad name.
        FileExistsError: a key file exists and ``overwrite`` is false.
    """
    signer = NoteSigner.generate(name)
    private = Path(path)
    public = private.with_name(private.name + ".pub")
    if not overwrite and public.exists():
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(public))
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    fd = os.open(private, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an overwritten file keeps its old mode otherwise
        os.write(fd, signer.skey.encode("ascii") + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    verifier = signer.cosigner() if witness else signer.verifier()
    public.write_text(verifier.vkey + "\n", encoding="utf-8")
    return signer, private, public

"""``usepolicy keygen -o KEYFILE``: make an Ed25519 key pair for signing audit records;
with ``--note NAME``, a note key for signing checkpoints (or, ``--witness``, cosigning)."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

from ._output import EXIT_ALLOWED, EXIT_ERROR, error

__all__ = ["configure"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Describe ``usepolicy keygen`` and add its options (``cli.COMMANDS`` names it)."""
    parser.description = (
        "Write an Ed25519 private key (PEM, mode 0600) to KEYFILE and its "
        "public key to KEYFILE.pub. Give the private key to `check --sign-key` or "
        "`Enforcer(signer=...)`; give inspectors the public key. With --note NAME, "
        "write a note key instead (C2SP signed-note, Go's sumdb/note format) for "
        "`audit checkpoint --sign-key` or, with --witness, `audit witness --key`; "
        "KEYFILE.pub is then its verifier key. KEYFILE must not be in a git work tree "
        "unless git ignores it, so that `git add .` cannot commit it. "
        "Needs pip install 'usepolicy[sign]'."
    )
    parser.add_argument("-o", "--output", required=True, metavar="KEYFILE")
    parser.add_argument(
        "--note",
        metavar="NAME",
        help="make a note key named NAME (e.g. example.com/audit: a log's checkpoint origin)",
    )
    parser.add_argument(
        "--witness",
        action="store_true",
        help="with --note: a witness key (its verifier key is type 0x04, cosignature/v1)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace existing key files, and write KEYFILE even where git would commit it",
    )
    parser.set_defaults(run=run)


def _work_tree(path: Path) -> Path | None:
    """The git work tree that holds ``path``, if any (``.git`` is a folder, or a file in
    a linked work tree or submodule)."""
    folder = path.resolve().parent
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def _git_ignores(tree: Path, path: Path) -> bool:
    """Whether git ignores ``path`` in ``tree``; False when git cannot say (not
    installed, or failed), so that an unknown answer refuses."""
    git = shutil.which("git")
    if git is None:
        return False
    command = [git, "-C", str(tree), "check-ignore", "-q", "--", str(path.resolve())]
    try:
        found = subprocess.run(command, capture_output=True, timeout=30, check=False)  # noqa: S603 - no shell
    except (OSError, subprocess.SubprocessError):
        return False
    return found.returncode == 0


def run(args: argparse.Namespace) -> int:
    from ..audit import SigningUnavailableError, generate_keypair
    from ..tlog import NoteError, generate_note_key

    if args.witness and args.note is None:
        error("--witness makes a note key: give --note NAME")
        return EXIT_ERROR
    tree = _work_tree(Path(args.output))
    if tree is not None and not args.force and not _git_ignores(tree, Path(args.output)):
        error(
            f"{args.output}: inside the git work tree {tree}, and not ignored there: "
            "`git add .` would commit the private key. Write it outside the work tree, "
            "add it to .gitignore, or give --force"
        )
        return EXIT_ERROR
    try:
        if args.note is not None:
            note_signer, private, public = generate_note_key(
                args.output, args.note, witness=args.witness, overwrite=args.force
            )
        else:
            signer, private, public = generate_keypair(args.output, overwrite=args.force)
    except (SigningUnavailableError, NoteError) as exc:
        error(str(exc))
        return EXIT_ERROR
    except FileExistsError as exc:
        error(f"{exc.filename or exc}: exists (use --force to replace it)")
        return EXIT_ERROR
    except OSError as exc:
        error(f"{args.output}: cannot write: {exc.strerror or exc}")
        return EXIT_ERROR
    print(f"private key: {private} (mode 0600: keep it secret)")
    if args.note is None:
        print(f"public key:  {public}")
        print(f"key id:      {signer.key_id}")
        return EXIT_ALLOWED
    role = "witness" if args.witness else "log"
    verifier = note_signer.cosigner() if args.witness else note_signer.verifier()
    print(f"{role} verifier key: {public}")
    print(f"  {verifier.vkey}")
    return EXIT_ALLOWED

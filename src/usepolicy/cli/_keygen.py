"""``usepolicy keygen -o KEYFILE``: make an Ed25519 key pair for signing audit records."""

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
        "`Enforcer(signer=...)`; give inspectors the public key. KEYFILE must not be in "
        "a git work tree unless git ignores it, so that `git add .` cannot commit it. "
        "Needs pip install 'usepolicy[sign]'."
    )
    parser.add_argument("-o", "--output", required=True, metavar="KEYFILE")
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

    tree = _work_tree(Path(args.output))
    if tree is not None and not args.force and not _git_ignores(tree, Path(args.output)):
        error(
            f"{args.output}: inside the git work tree {tree}, and not ignored there: "
            "`git add .` would commit the private key. Write it outside the work tree, "
            "add it to .gitignore, or give --force"
        )
        return EXIT_ERROR
    try:
        signer, private, public = generate_keypair(args.output, overwrite=args.force)
    except SigningUnavailableError as exc:
        error(str(exc))
        return EXIT_ERROR
    except FileExistsError as exc:
        error(f"{exc.filename or exc}: exists (use --force to replace it)")
        return EXIT_ERROR
    except OSError as exc:
        error(f"{args.output}: cannot write: {exc.strerror or exc}")
        return EXIT_ERROR
    print(f"private key: {private} (mode 0600: keep it secret)")
    print(f"public key:  {public}")
    print(f"key id:      {signer.key_id}")
    return EXIT_ALLOWED

"""``usepolicy keygen -o KEYFILE``: make an Ed25519 key pair for signing audit records."""

from __future__ import annotations

import argparse

from ._output import EXIT_ALLOWED, EXIT_ERROR, error

__all__ = ["configure"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Describe ``usepolicy keygen`` and add its options (``cli.COMMANDS`` names it)."""
    parser.description = (
        "Write an Ed25519 private key (PEM, mode 0600) to KEYFILE and its "
        "public key to KEYFILE.pub. Give the private key to `check --sign-key` or "
        "`Enforcer(signer=...)`; give inspectors the public key. Needs "
        "pip install 'usepolicy[sign]'."
    )
    parser.add_argument("-o", "--output", required=True, metavar="KEYFILE")
    parser.add_argument("--force", action="store_true", help="replace existing key files")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..audit import SigningUnavailableError, generate_keypair

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

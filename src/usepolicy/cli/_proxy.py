"""``usepolicy proxy --upstream URL --keys KEYS.yaml --audit-log FILE``: serve the
enforcing OpenAI-compatible proxy (``usepolicy.gateway.Gateway``) with uvicorn."""

from __future__ import annotations

import argparse
import os
import socket
import sys

from .._errors import AuditError, PolicyError
from .._files import InputFileError
from ._log_args import add_rotation_args, check_rotation_args
from ._output import EXIT_ALLOWED, EXIT_ERROR, EXIT_INVALID, error, policy_error

__all__ = ["configure"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Describe ``usepolicy proxy`` and add its options (``cli.COMMANDS`` names it)."""
    parser.description = (
        "Serve an OpenAI-compatible proxy that checks every call against the policy, "
        "records it, and forwards only what is allowed (needs usepolicy[gateway]). "
        "SIGHUP reloads the policy; GET /metrics and /healthz are the proxy's own."
    )
    parser.add_argument("--upstream", required=True, metavar="URL", help="the model's base URL")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, default=8088,
        help="default 8088; 0: a free port, named on stderr with the address",
    )  # fmt: skip
    parser.add_argument(
        "--keys", required=True, metavar="KEYS.yaml",
        help="API key digests (sha256) and the requester each stands for",
    )  # fmt: skip
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--audit-log", metavar="FILE", help="the hash-chained audit log")
    target.add_argument(
        "--audit-db", metavar="URL",
        help="the PostgreSQL audit store (decision and outcome records)",
    )  # fmt: skip
    parser.add_argument(
        "-p", "--policy", action="append", metavar="PATH",
        help="policy file or folder (repeatable; default: the reference pack)",
    )  # fmt: skip
    parser.add_argument(
        "--environment", metavar="ENV.yaml", help="the deployment's network and classification"
    )
    parser.add_argument(
        "--accept-obligation", action="append", default=[], metavar="ID",
        help="an obligation this deployment fulfils (repeatable); an allow carrying any "
        "other obligation is refused (403 usepolicy_obligation_unmet)",
    )  # fmt: skip
    parser.add_argument(
        "--durability", choices=("always", "batch", "none"), default="always",
        help="for --audit-log: fsync each batch before answering (always, default)",
    )  # fmt: skip
    add_rotation_args(parser)
    parser.add_argument(
        "--store-prompt", action="store_true",
        help="keep the prompt in outcome records (default: only its digest)",
    )  # fmt: skip
    parser.add_argument(
        "--upstream-key-env", metavar="VAR",
        help="environment variable holding the API key sent upstream",
    )  # fmt: skip
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from ..gateway import Gateway, GatewayMetrics, load_environment, load_keys
    except ImportError as exc:
        error(
            f"usepolicy proxy needs the extra [gateway] ({exc}): pip install 'usepolicy[gateway]'"
        )
        return EXIT_ERROR
    from .._enforcer import Enforcer
    from ..audit import open_sink
    from ..policy import load_policy

    try:
        keys = load_keys(args.keys)
        environment = load_environment(args.environment) if args.environment else None
        policy = load_policy(args.policy or None)
    except PolicyError as exc:
        policy_error(exc)
        return EXIT_INVALID
    except InputFileError as exc:
        error(str(exc))
        return EXIT_INVALID
    upstream_key = None
    if args.upstream_key_env:
        upstream_key = os.environ.get(args.upstream_key_env)
        if not upstream_key:
            error(f"--upstream-key-env: ${args.upstream_key_env} is not set")
            return EXIT_ERROR
    metrics = GatewayMetrics()
    try:
        check_rotation_args(args)
        if args.audit_db:
            sink = open_sink(args.audit_db, writer_id=f"proxy@{socket.gethostname()}")
        else:
            sink = open_sink(
                args.audit_log,
                durability=args.durability,
                rotate_bytes=args.rotate_bytes,
                rotate_every=args.rotate_every,
            )
    except (AuditError, ValueError) as exc:
        error(str(exc))
        return EXIT_ERROR
    observers = getattr(sink, "batch_observers", None)
    if observers is not None:
        observers.append(metrics.batch_size.observe)
    enforcer = Enforcer(policy, audit_log=sink, obligations=args.accept_obligation)
    gateway = Gateway(
        args.upstream, enforcer, keys=keys, environment=environment,
        store_prompt=args.store_prompt, upstream_key=upstream_key,
        policy=args.policy or None, metrics=metrics,
    )  # fmt: skip
    try:
        listening = _listen(args.host, args.port)
    except OSError as exc:
        sink.close()
        error(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
        return EXIT_ERROR
    host, port = listening.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"usepolicy: proxy on http://{shown}:{port} -> {args.upstream}", file=sys.stderr,
          flush=True)  # fmt: skip
    config = uvicorn.Config(gateway, log_level="warning", lifespan="on")
    try:
        uvicorn.Server(config).run(sockets=[listening])
    finally:
        listening.close()
        sink.close()
    return EXIT_ALLOWED


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that the address (and a port 0 the system
    chose) is known, and said, before the first call."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind((host, port))
        listening.listen(2048)
    except OSError:
        listening.close()
        raise
    listening.set_inheritable(True)
    return listening

"""Peer engines for ``benchmarks/bench_peers.py``: the reference pack translated by hand
into Cedar (``cedarpy``) and Rego (``regopy``), a hand-written Python floor, and the
shared request pool. ``tests/benchmarks/test_peers_agree.py`` keeps the translations
honest: every peer must decide like usepolicy on the pool.

Import with ``benchmarks/`` on ``sys.path`` (``from peers import ...``).
"""

from .common import (
    DENIED_LIST,
    PEER_DIR,
    Disagreement,
    builtins_pool,
    peer_pool,
    reference_policy,
    thousand_rule_policy,
)

__all__ = [
    "DENIED_LIST",
    "PEER_DIR",
    "Disagreement",
    "builtins_pool",
    "peer_pool",
    "reference_policy",
    "thousand_rule_policy",
]

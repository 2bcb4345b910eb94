"""Open Policy Agent: Rego export, OPA bundles and an engine backed by an OPA server.

``to_rego`` and ``write_bundle`` need nothing beyond usepolicy itself. ``OpaEngine``
needs the ``opa`` extra (``pip install 'usepolicy[opa]'``); without it, making one
raises ``ImportError`` saying so. See docs/opa.md.
"""

from __future__ import annotations

from ._bundle import bundle_files, write_bundle
from ._engine import OpaDecision, OpaEngine
from ._input import opa_input
from ._rego import data_path, package_path, to_rego

__all__ = [
    "OpaDecision",
    "OpaEngine",
    "bundle_files",
    "data_path",
    "opa_input",
    "package_path",
    "to_rego",
    "write_bundle",
]

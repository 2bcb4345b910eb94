"""Write a policy as an OPA bundle (``opa run --server --bundle bundle.tar.gz``).

The bundle holds the Rego module (reading the named lists from data), ``data.json``
with the lists (the name keys of their items) under ``data.usepolicy.<name>.lists``,
and a ``.manifest`` whose ``revision`` is the policy digest and whose one root is
``usepolicy/<name>``. The file is reproducible: the same policy gives the same bytes.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from typing import Any

from ..._version import __version__
from ...policy import Policy
from ._input import exported_lists
from ._rego import data_path, package_path, to_rego

__all__ = ["bundle_files", "write_bundle"]


def bundle_files(policy: Policy) -> dict[str, bytes]:
    """The files of the bundle, by their path in the archive (as ``opa build`` names them)."""
    root, name = package_path(policy)
    lists = exported_lists(policy)
    manifest: dict[str, Any] = {
        "revision": policy.digest,
        "roots": [data_path(policy)],
        "rego_version": 1,
        "metadata": {
            "usepolicy": {
                "policy": policy.name,
                "version": policy.version,
                "exported_by": f"usepolicy {__version__}",
            }
        },
    }
    return {
        "/.manifest": _json(manifest),
        "/data.json": _json({root: {name: {"lists": lists}}}),
        f"/{data_path(policy)}/policy.rego": to_rego(policy, lists_from_data=True).encode(),
    }


def _json(value: Any) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def write_bundle(policy: Policy, path: str | os.PathLike[str]) -> None:
    """Write the bundle of ``policy`` as a gzipped tarball at ``path``.

    Raises:
        OSError: the file cannot be written.
    """
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in bundle_files(policy).items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o644
            info.mtime = 0  # reproducible: no clock in the archive
            tar.addfile(info, io.BytesIO(content))
    with (
        open(path, "wb") as handle,
        gzip.GzipFile(filename="", fileobj=handle, mode="wb", mtime=0) as gz,
    ):
        gz.write(raw.getvalue())

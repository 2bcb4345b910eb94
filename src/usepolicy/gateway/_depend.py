"""The FastAPI (or Starlette) side of ``UsepolicyMiddleware``: the decision as a
dependency of a route."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.exceptions import HTTPException
from starlette.requests import Request

if TYPE_CHECKING:
    from .._enforcer import Enforcement

__all__ = ["usepolicy_enforcement"]


def usepolicy_enforcement(request: Request) -> Enforcement:
    """The ``Enforcement`` of this call, as ``UsepolicyMiddleware`` made it: use it as
    ``Depends(usepolicy_enforcement)`` to read the record (obligations, decision id).

    A route that depends on it never runs unguarded: when the middleware did not check
    the call (not installed, or not on this path), the answer is 500, fail closed.

    Raises:
        HTTPException: 500, the call was not checked.
    """
    result = request.scope.get("state", {}).get("usepolicy")
    if result is None:
        raise HTTPException(
            500, "usepolicy: this call was not checked (is the middleware installed?)"
        )
    enforcement: Enforcement = result
    return enforcement

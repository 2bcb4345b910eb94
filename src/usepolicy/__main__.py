"""``python -m usepolicy``: the same as the ``usepolicy`` command."""

from .cli import _entry

_entry()

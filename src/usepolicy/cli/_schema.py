"""``usepolicy schema``: print the JSON Schema of the request."""

from __future__ import annotations

import argparse
import json

from ._output import EXIT_ALLOWED

__all__ = ["configure"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Describe ``usepolicy schema`` and add its options (``cli.COMMANDS`` names it)."""
    parser.description = "Print the JSON Schema (draft 2020-12) of a usepolicy request."
    parser.set_defaults(run=run, format="json")  # not human output: printed exactly


def run(args: argparse.Namespace) -> int:
    from ..request import UseRequest

    schema = UseRequest.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "usepolicy request"
    print(json.dumps(schema, indent=2))
    return EXIT_ALLOWED

"""A store as an earlier release left it: the schema of that version, with records in
it written in that release's columns (a sink of today writes today's columns)."""

from __future__ import annotations

from usepolicy import Engine
from usepolicy.audit.postgres._schema import _VERSION_TABLE, COLUMNS, MIGRATIONS, row_values
from usepolicy.record import seal

from ..conftest import ALLOWED, DENIED

#: the columns each schema version's rows have (``outcome`` came with version 3)
_COLUMNS = {1: COLUMNS[:-1], 2: COLUMNS[:-1], 3: COLUMNS}


def old_store(url: str, version: int, engine: Engine, chains: dict[str, int]) -> None:
    """Create the schema at ``version`` and store ``chains`` (writer -> number of
    records, every third a deny) as that version's sink stored them."""
    import psycopg
    from psycopg import sql

    columns = _COLUMNS[version]
    insert = sql.SQL("INSERT INTO usepolicy_decisions ({}) VALUES ({})").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.Placeholder() * len(columns)),
    )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(_VERSION_TABLE)  # type: ignore[arg-type]
        for number, description, statements in MIGRATIONS[:version]:
            conn.execute(statements)  # type: ignore[arg-type]
            conn.execute(
                "INSERT INTO usepolicy_schema (version, description) VALUES (%s, %s)",
                (number, description),
            )
        for writer, n in chains.items():
            head = None
            for i in range(n):
                record = engine.evaluate(DENIED if i % 3 == 2 else ALLOWED).record()
                sealed = seal(record.to_dict(), head)
                values = row_values(writer, i + 1, sealed.body, sealed.line.decode())
                conn.execute(insert, values[: len(columns)])
                head = sealed.digest

"""A batch of records as one autocommit ``COPY``: committed before the append returns,
stored whole or not at all, and a failed batch leaves the chain to go on from the last
committed record.

The batches are formed as a gateway's threads form them: the sink's turn is held (as if
a commit were under way) while the appends queue, then passed on, so that one of them
stores them all as one ``COPY``.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from usepolicy import AuditError, Enforcer, Engine
from usepolicy.audit import PostgresSink, query_db, verify_db
from usepolicy.audit.postgres._copy import copy_chained
from usepolicy.audit.postgres._schema import connect
from usepolicy.record import Draft

from ..conftest import ALLOWED
from ..pg_server import PgServer

# a check the server makes at the commit of each transaction that inserted such a row,
# not before: a commit that fails, whatever the COPY sent
_FAIL_AT_COMMIT = """
CREATE FUNCTION fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.organization = 'fail at commit' THEN
        RAISE EXCEPTION 'refused at commit';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER fail_at_commit AFTER INSERT ON usepolicy_decisions
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_at_commit();
"""
_POISONED: dict[str, Any] = {
    **ALLOWED,
    "requester": {"organization": "fail at commit", "country": "US"},
}


def draft(engine: Engine, request: dict[str, Any] = ALLOWED) -> Draft:
    return engine.evaluate(request).record_draft()


def one_batch(sink: PostgresSink, appends: list[Callable[[], Any]]) -> list[Any]:
    """Run ``appends`` in threads queued behind a held turn, so that they are stored as
    one batch, in this order; each thread's result or exception."""
    results: list[Any] = [None] * len(appends)

    def run(index: int) -> None:
        try:
            results[index] = appends[index]()
        except Exception as exc:  # the test reads what each caller got
            results[index] = exc

    with sink._cond:  # as if a commit were under way: the appends queue up
        sink._busy = True
    threads = []
    for index in range(len(appends)):
        threads.append(threading.Thread(target=run, args=(index,)))
        threads[-1].start()
        while len(sink._queue) < index + 1:  # queued in this order
            time.sleep(0.005)
    with sink._cond:  # the first of them now leads, with all of them: one COPY
        sink._pass_turn()
    for thread in threads:
        thread.join()
    return results


def stored_digests(url: str, writer: str) -> list[str]:
    _, found = query_db(url, writer=writer)
    return [record.record_digest for _, _, record in found]


def test_a_batch_is_one_copy_committed_before_its_appends_return(
    db: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No BEGIN or COMMIT of its own: the COPY is the transaction, and each append sees
    its record from another connection as soon as it returns."""
    import psycopg

    transactions: list[object] = []
    real = psycopg.Connection.transaction

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        transactions.append(self)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "transaction", counted)
    with PostgresSink(db, "gw-seen") as sink:
        sink.store(draft(engine))  # connected, the head read

        def append_and_look() -> bool:
            sealed = sink.store(draft(engine))
            with psycopg.connect(db, autocommit=True) as other:
                row = other.execute(
                    "SELECT 1 FROM usepolicy_decisions WHERE record_digest = %s",
                    (sealed.digest,),
                ).fetchone()
            return row is not None

        assert one_batch(sink, [append_and_look] * 6) == [True] * 6
    assert not transactions
    result = verify_db(db, "gw-seen")
    assert result.ok and result.count == 7, str(result)


def test_a_commit_that_fails_fails_its_whole_batch_and_the_chain_goes_on(
    server: PgServer, db: str, engine: Engine
) -> None:
    """The server refuses the batch at its commit (a deferred check): every append of
    the batch raises, none of its rows is in the database, and the appends after it
    are chained on the last committed record, not on the batch that was lost."""
    server.psql(_FAIL_AT_COMMIT, db.rsplit("/", 1)[1])
    with PostgresSink(db, "gw-lost") as sink:
        kept = [sink.store(draft(engine)) for _ in range(2)]
        batch = [lambda: sink.store(draft(engine))] * 5
        batch[3] = lambda: sink.store(draft(engine, _POISONED))
        results = one_batch(sink, batch)
        assert all(isinstance(r, AuditError) for r in results), results
        assert all("refused at commit" in str(r) for r in results)
        assert stored_digests(db, "gw-lost") == [s.digest for s in kept]
        later = [sink.store(draft(engine)) for _ in range(3)]
        assert sink.seq == 5
    assert later[0].body["prev_digest"] == kept[-1].digest
    assert stored_digests(db, "gw-lost") == [s.digest for s in kept + later]
    result = verify_db(db, "gw-lost")
    assert result.ok and result.count == 5, str(result)


def test_a_thousand_tasks_get_stored_only_if_committed(
    server: PgServer, db: str, engine: Engine
) -> None:
    """``aenforce`` through the sink's writer thread, a few of the second five hundred
    refused at commit: each task is told the truth (stored, or a deny not stored), the
    records told stored are those in the database, and the chain verifies."""
    server.psql(_FAIL_AT_COMMIT, db.rsplit("/", 1)[1])

    async def many(guard: Enforcer) -> list[Any]:
        first = await asyncio.gather(*(guard.aenforce(ALLOWED) for _ in range(500)))
        requests = [_POISONED if i % 100 == 99 else ALLOWED for i in range(500)]
        return [*first, *await asyncio.gather(*(guard.aenforce(r) for r in requests))]

    with PostgresSink(db, "gw-tasks") as sink:
        answers = asyncio.run(many(Enforcer(engine, audit_log=sink)))
    told_stored = {a.record.decision_id for a in answers if a.stored}
    assert all(a.stored for a in answers[:500]) and not all(a.stored for a in answers)
    assert all(not a.allowed and a.failure is not None for a in answers if not a.stored)
    _, found = query_db(db, writer="gw-tasks")
    assert {record.decision_id for _, _, record in found} == told_stored
    result = verify_db(db, "gw-tasks")
    assert result.ok and result.count == len(told_stored), str(result)


def test_a_body_that_cannot_be_sealed_abandons_the_copy_under_way(db: str, engine: Engine) -> None:
    """Rows are sealed as they stream: the batch's third body fails to seal after two
    rows went into the COPY, and none of the batch is stored."""
    with PostgresSink(db, "gw-nan") as sink:
        first = sink.store(draft(engine))
        bad = draft(engine)
        bad.body["attributes"] = {"score": math.nan}  # no canonical JSON form
        batch = [lambda: sink.store(draft(engine))] * 4
        batch[2] = lambda: sink.store(bad)
        results = one_batch(sink, batch)
        assert all(isinstance(r, (AuditError, ValueError)) for r in results), results
        assert stored_digests(db, "gw-nan") == [first.digest]
        after = sink.store(draft(engine))
    assert after.body["prev_digest"] == first.digest
    result = verify_db(db, "gw-nan")
    assert result.ok and result.count == 2, str(result)


def test_copy_chained_refuses_a_connection_that_would_not_commit(db: str, engine: Engine):
    conn = connect(db)
    try:
        conn.autocommit = False
        with pytest.raises(ValueError, match="autocommit"):
            copy_chained(conn, "gw-x", 0, None, [draft(engine)])
    finally:
        conn.close()

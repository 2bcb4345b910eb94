"""``GroupWriter``: one thread per sink that commits whatever is pending as one batch.

Callers (threads, or asyncio tasks through ``submit_async``) queue an unsealed record
body, or a function that makes it (then the writer thread makes it, off the caller's
event loop), and wait. The writer thread takes everything pending, hands it to the sink's
``commit`` (which chains, writes and syncs the whole batch at once), and then wakes the
batch's waiters once: its threads one after the other, each event loop with one
``call_soon_threadsafe``. A thread waits on a lock of its own (so a commit wakes the
threads of its batch and no other), released by the writer for the batch's first
thread and by each woken thread for the next: only one of them need be running at a
time under the GIL, and thirty-two threads released together would spend their turns
taking the GIL from each other (measured: 25-50% more records a second for 32 threads
with ``batch``). So a thousand waiting callers cost one write and one fsync,
and an event loop never blocks on the disk or on the file lock. On the loop, the
futures are resolved a slice at a time, one loop iteration each, whichever batches they
came from, so that a thousand tasks woken at once do not all run before the loop's next
timer.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Final

from .._errors import AuditError
from ..record import Draft, Sealed

__all__ = ["Commit", "DraftSource", "GroupWriter", "Outcome", "fork_generation"]

Outcome = Sealed | AuditError
Commit = Callable[[Sequence[Draft]], list[Outcome]]
#: a record body, or the function that makes it (called in the writer thread)
DraftSource = Draft | Callable[[], Draft]

# a batch is bounded so that one huge backlog does not become one huge write
_MAX_BATCH: Final = 4096
# Bodies the writer thread makes between two offers of the GIL to other threads.
_YIELD_EVERY: Final = 8
# Tasks woken per loop iteration: each then runs its next step on the loop (its answer,
# then its next decision: tens of microseconds, more on a busy machine). A slice of 16
# keeps an iteration near a millisecond, so the loop's timers and other tasks wait
# about that long, not for a whole batch of a thousand (measured: bench_gateway.py).
_WAKE_SLICE: Final = 16


# Forks so far, counted in each child: what a sink opened before a fork compares to know
# it is in a child (its writer thread, file lock or connection are the parent's), as
# asking the process id would cost a system call on every append.
_forks = 0


def _forked() -> None:
    global _forks
    _forks += 1


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_forked)


def fork_generation() -> int:
    """How many forks made this process from the one that imported this module: a value
    that differs in a child from what its parent saw."""
    return _forks


class _Ticket:
    __slots__ = ("draft", "future", "gone", "loop", "next", "outcome", "wake", "woken")

    def __init__(
        self,
        draft: DraftSource,
        loop: asyncio.AbstractEventLoop | None = None,
        future: asyncio.Future[Sealed] | None = None,
    ) -> None:
        self.draft = draft
        self.loop = loop
        self.future = future
        self.outcome: Outcome | None = None
        #: a thread's ticket: held until its batch is committed, then released (see
        #: ``_wake_from``), so that a commit wakes the threads of its batch and no other
        self.wake: threading.Lock | None = None
        self.next: _Ticket | None = None  # the batch's next thread ticket
        self.woken = False  # its lock was released: it wakes the next one
        self.gone = False  # its thread stopped waiting: the next one is woken instead


class GroupWriter:
    """The writer thread of one sink.

    Args:
        commit: chains, stores and makes durable a batch of drafts, in order; returns
            one outcome per draft (the record as stored, or why it was not). It is only
            ever called from the writer thread, one batch at a time.
        name: the thread's name (for debugging).
    """

    def __init__(
        self, commit: Commit, name: str, observers: list[Callable[[int], object]] | None = None
    ) -> None:
        self._commit = commit
        #: called with each batch's size, on the writer thread (metrics)
        self._observers = observers if observers is not None else []
        self._name = name
        self._cond = threading.Condition()
        self._baton = threading.Lock()  # who wakes the next thread of a batch
        # each event loop's tickets to resolve (the writer thread's alone)
        self._waking: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Waking] = (
            weakref.WeakKeyDictionary()
        )
        self._pending: list[_Ticket] = []
        self._closed = False
        self._thread: threading.Thread | None = None
        self._generation = _forks
        self.batches = 0  # batches committed: how many fsyncs the callers shared

    def submit(self, draft: Draft) -> Sealed:
        """Queue ``draft`` and wait until its batch is committed.

        Raises:
            AuditError: the record was not stored.
        """
        ticket = _Ticket(draft)
        ticket.wake = wake = threading.Lock()
        wake.acquire()
        try:
            with self._cond:
                self._enqueue(ticket)
            wake.acquire()  # released once the batch holding it is committed
        finally:  # woken, or interrupted: the batch's next thread must not wait for us
            self._leave(ticket)
        assert ticket.outcome is not None
        return _result(ticket.outcome)

    def _leave(self, ticket: _Ticket) -> None:
        """``ticket``'s thread no longer waits: if it was woken, wake the next thread
        of its batch; if not, the thread before it will skip it."""
        with self._baton:
            ticket.gone = True
            if ticket.woken:
                self._wake_from(ticket.next)

    def _wake_from(self, ticket: _Ticket | None) -> None:
        """Wake the first thread, from ``ticket`` on, that still waits (``_baton``
        held)."""
        while ticket is not None and ticket.gone:
            ticket = ticket.next
        if ticket is not None:
            assert ticket.wake is not None
            ticket.woken = True
            ticket.wake.release()

    def submit_async(self, draft: DraftSource) -> asyncio.Future[Sealed]:
        """Queue ``draft``; the future (of the running loop) is its batch's outcome.

        ``draft`` may be a function that makes the body: the writer thread calls it, so
        that the loop only decides. When it raises, this record alone is not stored
        (``AuditError``). A future rather than a coroutine: a thousand tasks each
        awaiting a record hold one object fewer each for the garbage collector to
        go through.

        Raises:
            AuditError: the writer is closed.
        """
        future: asyncio.Future[Sealed] = asyncio.get_running_loop().create_future()
        with self._cond:  # held only to append to a list, never across I/O
            self._enqueue(_Ticket(draft, future.get_loop(), future))
        return future

    def _enqueue(self, ticket: _Ticket) -> None:
        if self._closed:
            raise AuditError("the audit log is closed")
        if self._thread is None or self._generation != _forks:
            # a forked child has no writer thread: it starts its own
            self._generation = _forks
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()
        self._pending.append(ticket)
        if len(self._pending) == 1:
            self._cond.notify()  # the writer thread, the only one waiting on it

    def _run(self) -> None:
        cond = self._cond
        while True:
            with cond:
                while not self._pending and not self._closed:
                    cond.wait()
                if not self._pending:
                    return
                batch = self._pending[:_MAX_BATCH]
                del self._pending[:_MAX_BATCH]
            outcomes: list[Outcome | None] = [None] * len(batch)
            drafts: list[Draft] = []
            for index, ticket in enumerate(batch):
                if index % _YIELD_EVERY == _YIELD_EVERY - 1 and not isinstance(ticket.draft, Draft):
                    # Let a waiting event loop have the GIL now: otherwise it waits out
                    # the interpreter's switch interval (5 ms) each time, and a batch
                    # of a thousand bodies holds its timers up for tens of milliseconds.
                    time.sleep(0)
                try:
                    drafts.append(_made(ticket.draft))
                except Exception as exc:  # this record has no body; the others go on
                    outcomes[index] = AuditError(f"cannot make the record: {exc}")
            try:
                committed = self._commit(drafts) if drafts else []
            except Exception as exc:  # a commit that fails in any way stored nothing
                failure = exc if isinstance(exc, AuditError) else AuditError(str(exc))
                committed = [failure] * len(drafts)
            done = iter(committed)
            self._wake(batch, [next(done) if o is None else o for o in outcomes])

    def _wake(self, batch: list[_Ticket], outcomes: list[Outcome]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Ticket]] = {}
        with self._cond:
            self.batches += 1
        threads: list[_Ticket] = []
        for ticket, outcome in zip(batch, outcomes, strict=True):
            ticket.outcome = outcome
            if ticket.wake is not None:
                threads.append(ticket)
            elif ticket.loop is not None:
                by_loop.setdefault(ticket.loop, []).append(ticket)
        if threads:
            with self._baton:  # each woken thread wakes the next (``_leave``)
                for ticket, after in itertools.pairwise(threads):
                    ticket.next = after
                self._wake_from(threads[0])
        for observe in self._observers:
            with contextlib.suppress(Exception):  # a metric must never stop the writer
                observe(len(batch))
        for loop, tickets in by_loop.items():
            waking = self._waking.get(loop)
            if waking is None:
                waking = self._waking[loop] = _Waking(loop)
            waking.add(tickets)

    def close(self) -> None:
        """Commit what is pending, then stop the thread. Later submits raise."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        mine = thread is not None and self._generation == _forks
        if mine and thread is not threading.current_thread():
            assert thread is not None
            thread.join()


def _made(draft: DraftSource) -> Draft:
    return draft if isinstance(draft, Draft) else draft()


def _result(outcome: Outcome) -> Sealed:
    if isinstance(outcome, AuditError):
        raise outcome
    return outcome


class _Waking:
    """The tickets of one event loop to resolve, a slice per iteration of the loop,
    whichever batches they came from: two batches committed in one iteration of the
    loop still wake ``_WAKE_SLICE`` tasks in it, not twice as many."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()  # the writer thread adds, the loop takes
        self._tickets: collections.deque[_Ticket] = collections.deque()
        self._scheduled = False

    def add(self, tickets: list[_Ticket]) -> None:
        """On the writer thread: queue ``tickets``, and the loop's next slice if none is
        on its way."""
        with self._lock:
            self._tickets.extend(tickets)
            if self._scheduled:
                return
            self._scheduled = True
        # a closed loop raises RuntimeError: nobody is waiting there any more
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._slice)

    def _slice(self) -> None:
        """On the loop: resolve a slice of the tickets now, the rest in its next
        iterations."""
        with self._lock:
            count = min(_WAKE_SLICE, len(self._tickets))
            tickets = [self._tickets.popleft() for _ in range(count)]
            self._scheduled = bool(self._tickets)
        if self._scheduled:
            self._loop.call_soon(self._slice)
        for ticket in tickets:
            future, outcome = ticket.future, ticket.outcome
            if future is None or future.done():  # cancelled: the record is stored anyway
                continue
            if isinstance(outcome, AuditError):
                future.set_exception(outcome)
            else:
                assert outcome is not None
                future.set_result(outcome)

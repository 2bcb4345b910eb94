"""Enforcement: what one Enforcer call did; ``stored`` makes it without ``__init__``."""

from __future__ import annotations

import usepolicy
from usepolicy import DecisionRecord, Enforcement
from usepolicy._enforcement import stored

from .test_enforcer import ALLOWED


def test_stored_makes_what_init_makes_for_either_kind_of_kept_record():
    """``stored`` sets the slots one by one (cheaper than ``__init__``'s keywords): it
    must set every slot, each as ``__init__`` would, for a sealed body and for a record
    a plain sink returned."""
    engine = usepolicy.Engine(usepolicy.load_policy())
    decision = engine.evaluate(ALLOWED)
    sealed = decision.record_draft().seal(None)
    record = DecisionRecord.from_body(sealed.body)
    explanation = engine.explain(ALLOWED)
    made = {
        "sealed": Enforcement(
            sealed.body,
            decision=decision,
            stored=True,
            explanation=explanation,
            sealed=sealed,
        ),
        "record": Enforcement(record.to_dict(), decision=decision, stored=True, record=record),
    }
    fast = {
        "sealed": stored(sealed, decision, None, explanation),
        "record": stored(record, decision, None),
    }
    for kind in made:
        for slot in Enforcement.__slots__:
            assert getattr(fast[kind], slot) == getattr(made[kind], slot), (kind, slot)
        assert fast[kind].record == made[kind].record

"""Walk a partition: every representative, or a random search when there are too many."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from ._partition import Partition

__all__ = ["DEFAULT_BUDGET", "DEFAULT_SAMPLES", "SearchStats", "search"]

#: most representatives evaluated one by one before the search turns random
DEFAULT_BUDGET: Final = 1_000_000
#: requests tried by the random search that follows
DEFAULT_SAMPLES: Final = 50_000
#: of those, how many hypothesis draws (it explores well, but costs milliseconds each)
HYPOTHESIS_SAMPLES: Final = 1_000

Visit = Callable[[dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class SearchStats:
    """How a partition was covered.

    Attributes:
        exhaustive: every representative was evaluated.
        classes: representatives evaluated one by one.
        tried: requests tried by the random search (0 when exhaustive).
        notes: warnings: where the search is not exhaustive, or classes rest on samples.
    """

    exhaustive: bool
    classes: int
    tried: int
    notes: tuple[str, ...]


def search(
    partition: Partition,
    visit: Visit,
    *,
    budget: int = DEFAULT_BUDGET,
    samples: int = DEFAULT_SAMPLES,
) -> SearchStats:
    """Call ``visit`` with every representative's assignment; past ``budget``, sample."""
    notes = list(dict.fromkeys(partition.notes))
    count = 0
    for assignment in partition.leaves():
        if count >= budget:
            break
        visit(assignment)
        count += 1
    else:
        return SearchStats(True, count, 0, tuple(notes))
    bound = partition.size_bound()
    tried, how = _random_search(partition, visit, samples)
    notes.append(
        f"too many classes of requests to check them all (more than {budget:,}; the "
        f"product of the fields' classes is {bound:,}): checked {count:,} one by one, "
        f"then {tried:,} random cases ({how}); this is a sample, not a proof"
    )
    return SearchStats(False, count, tried, tuple(notes))


def _random_search(partition: Partition, visit: Visit, samples: int) -> tuple[int, str]:
    fields = partition.order
    drawn, how = _hypothesis_search(partition, visit, min(samples, HYPOTHESIS_SAMPLES))
    rng = random.Random(0)  # noqa: S311 - a reproducible search, not security
    for _ in range(samples - drawn):
        visit({f: rng.choice(partition.values[f]) for f in fields})
    return samples, f"{drawn:,} drawn by {how}, the rest at random"


def _hypothesis_search(partition: Partition, visit: Visit, samples: int) -> tuple[int, str]:
    try:
        from hypothesis import HealthCheck, Phase, given, settings
        from hypothesis import strategies as st
    except ImportError:
        return 0, "hypothesis (not installed: pip install 'usepolicy[test]')"
    values = partition.values
    strategy = st.fixed_dictionaries({f: st.sampled_from(values[f]) for f in partition.order})
    count = 0

    @settings(
        max_examples=samples,
        database=None,
        derandomize=True,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def run(assignment: dict[str, Any]) -> None:
        nonlocal count
        count += 1
        visit(assignment)

    run()
    return count, "hypothesis"

"""The replica plans (pure logic), checked by applying them and by brute force on small cases."""

import itertools

import numpy as np
import pytest

from qserv.errors import UserError
from qserv.replica_plans import loads, plan_drain, plan_level, plan_rebalance


def apply(holders, steps):
    held = {chunk: list(workers) for chunk, workers in holders.items()}
    for step in steps:
        kind, chunk = step[0], step[1]
        if kind == "move":
            assert step[2] in held[chunk] and step[3] not in held[chunk]
            held[chunk] = [w for w in held[chunk] if w != step[2]] + [step[3]]
        elif kind == "add":
            assert step[2] in held[chunk] and step[3] not in held[chunk]
            held[chunk].append(step[3])
        else:
            assert step[2] in held[chunk] and len(held[chunk]) > 1
            held[chunk].remove(step[2])
    return held


def random_case(seed, chunks=40, workers=4, replication=1):
    rng = np.random.default_rng(seed)
    holders = {c: sorted(rng.choice(workers, replication, replace=False).tolist()) for c in range(chunks)}
    weights = {c: int(rng.integers(1, 100)) for c in range(chunks)}
    return holders, weights


@pytest.mark.parametrize("seed", range(5))
def test_drain_empties_the_worker_and_keeps_every_replica(seed):
    holders, weights = random_case(seed, replication=2)
    steps = plan_drain(holders, weights, [0, 1, 2, 3], 2)
    after = apply(holders, steps)
    assert all(2 not in workers for workers in after.values())
    assert all(len(set(workers)) == 2 for workers in after.values())
    assert len(steps) == sum(2 in w for w in holders.values())


def test_drain_drops_a_replica_no_other_worker_can_take_and_refuses_a_sole_one():
    assert plan_drain({7: [0, 1]}, {7: 5}, [0, 1], 1) == [("drop", 7, 1)]
    with pytest.raises(UserError, match="only replica of chunk 7"):
        plan_drain({7: [1]}, {7: 5}, [1], 1)


@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_level_gives_every_chunk_exactly_that_many_replicas(level):
    holders, weights = random_case(3, replication=2)
    after = apply(holders, plan_level(holders, weights, [0, 1, 2, 3], level))
    assert all(len(set(w)) == level for w in after.values())
    before, spread = loads(holders, weights, [0, 1, 2, 3]).values(), loads(after, weights, [0, 1, 2, 3]).values()
    # new replicas go to the least loaded workers, dropped ones leave the most loaded
    assert max(spread) - min(spread) <= max(before) - min(before) + max(weights.values())


def test_level_refuses_what_cannot_be_done():
    with pytest.raises(UserError, match="between 1 and the number of active workers"):
        plan_level({1: [0]}, {1: 1}, [0, 1], 0)
    with pytest.raises(UserError, match="between 1 and the number of active workers"):
        plan_level({1: [0]}, {1: 1}, [0, 1], 3)
    with pytest.raises(UserError, match="no replica on an active worker"):
        plan_level({1: [5]}, {1: 1}, [0, 1], 1)


@pytest.mark.parametrize("seed", range(5))
def test_rebalance_evens_loads_of_a_skewed_placement(seed):
    holders, weights = random_case(seed)
    holders = {c: [0] if c % 4 else [1] for c in holders}  # two workers hold everything
    steps = plan_rebalance(holders, weights, [0, 1, 2, 3])
    after = apply(holders, steps)
    load = loads(after, weights, [0, 1, 2, 3])
    assert max(load.values()) - min(load.values()) <= max(weights.values())
    assert len(steps) <= len(holders)


def test_rebalance_uses_no_more_moves_than_needed_on_small_cases():
    """Brute force: no placement reachable with fewer moves has a smaller spread than the plan's,
    within one largest weight."""
    for seed in range(6):
        holders, weights = random_case(seed, chunks=6, workers=3)
        steps = plan_rebalance(holders, weights, [0, 1, 2])
        after = loads(apply(holders, steps), weights, [0, 1, 2])
        spread = max(after.values()) - min(after.values())
        best = {}
        for owners in itertools.product(range(3), repeat=6):
            moved = sum(owners[c] != holders[c][0] for c in range(6))
            load = loads({c: [owners[c]] for c in range(6)}, weights, [0, 1, 2])
            value = max(load.values()) - min(load.values())
            best[moved] = min(best.get(moved, value), value)
        fewer = [best[m] for m in best if m < len(steps)]
        assert not fewer or min(fewer) >= spread - max(weights.values())


def test_rebalance_of_a_balanced_placement_moves_nothing():
    holders = {c: [c % 3] for c in range(9)}
    assert plan_rebalance(holders, {c: 10 for c in range(9)}, [0, 1, 2]) == []


def test_batches_keep_order_size_and_one_change_per_chunk():
    from qserv.replication import batches

    steps = [("move", 1, 0, 1), ("add", 2, 0, 2), ("drop", 1, 1), ("move", 3, 0, 1), ("add", 4, 1, 2),
             ("move", 5, 2, 0), ("drop", 3, 1)]
    found = list(batches(steps, 3))
    assert [step for run in found for step in run] == steps  # nothing lost, order kept
    assert all(0 < len(run) <= 3 and len({s[1] for s in run}) == len(run) for run in found)
    assert found[0] == steps[:2]  # chunk 1's drop waits for the run after its move

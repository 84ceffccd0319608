"""Which replicas to move, add or drop: pure planning over one database's placement.

Inputs are ``holders`` {chunk: [worker ids]}, ``weights`` {chunk: weight} (committed rows + 1, so
that empty chunks count too) and ``active`` (the worker ids that may receive replicas). A worker's
load is the sum of the weights of the chunks it holds. Plans are lists of steps applied in order.
"""

from qserv.errors import UserError


def loads(holders, weights, active):
    found = {worker: 0 for worker in active}
    for chunk, workers in holders.items():
        for worker in workers:
            if worker in found:
                found[worker] += weights.get(chunk, 1)
    return found


def _least_loaded(load, exclude):
    candidates = [w for w in sorted(load) if w not in exclude]
    return min(candidates, key=lambda w: (load[w], w)) if candidates else None


def plan_drain(holders, weights, active, worker):
    """Steps emptying ``worker``: ("move", chunk, worker, target) to the least loaded active worker
    that lacks the chunk, or ("drop", chunk, worker) when every other active worker has it."""
    others = [w for w in active if w != worker]
    load = loads(holders, weights, others)
    steps = []
    for chunk in sorted(c for c, workers in holders.items() if worker in workers):
        target = _least_loaded(load, set(holders[chunk]))
        if target is not None:
            steps.append(("move", chunk, worker, target))
            load[target] += weights.get(chunk, 1)
        elif len(holders[chunk]) > 1:
            steps.append(("drop", chunk, worker))
        else:
            raise UserError(f"worker {worker} holds the only replica of chunk {chunk} and no other "
                            "active worker can take it")
    return steps


def plan_level(holders, weights, active, level):
    """Steps giving every chunk ``level`` replicas on active workers: ("add", chunk, source,
    target) on the least loaded, ("drop", chunk, worker) from the most loaded holders."""
    if not 1 <= level <= len(active):
        raise UserError(f"replication level must be between 1 and the number of active workers "
                        f"({len(active)}), got {level}")
    load = loads(holders, weights, active)
    lost = sorted(c for c, workers in holders.items() if not set(workers) & set(active))
    if lost:
        raise UserError(f"{len(lost)} chunk(s) have no replica on an active worker (e.g. "
                        f"{', '.join(map(str, lost[:5]))}); enable their workers first")
    steps = []
    for chunk in sorted(holders):
        have = [w for w in holders[chunk] if w in load]
        weight = weights.get(chunk, 1)
        while len(have) < level:
            target = _least_loaded(load, set(holders[chunk]) | set(have))
            steps.append(("add", chunk, have[0], target))
            load[target] += weight
            have.append(target)
        while len(have) > level:
            worker = max(have, key=lambda w: (load[w], w))
            steps.append(("drop", chunk, worker))
            load[worker] -= weight
            have.remove(worker)
    return steps


def plan_rebalance(holders, weights, active):
    """("move", chunk, source, target) steps evening the loads of the active workers. Each step
    moves, between the most and least loaded pair that allows one, the chunk whose weight is
    closest to half their difference (only moves that lower the spread), so few steps are needed."""
    load = loads(holders, weights, active)
    held = {chunk: set(workers) for chunk, workers in holders.items()}
    steps = []
    while True:
        step = _best_move(held, weights, load)
        if step is None:
            return steps
        chunk, source, target = step
        held[chunk] = (held[chunk] - {source}) | {target}
        weight = weights.get(chunk, 1)
        load[source] -= weight
        load[target] += weight
        steps.append(("move", chunk, source, target))


def _best_move(held, weights, load):
    by_load = sorted(load, key=lambda w: (load[w], w))
    pairs = sorted(((hi, lo) for hi in by_load for lo in by_load if load[hi] - load[lo] > 1),
                   key=lambda pair: load[pair[1]] - load[pair[0]])
    for hi, lo in pairs:
        gap = load[hi] - load[lo]
        candidates = [c for c, workers in held.items()
                      if hi in workers and lo not in workers and weights.get(c, 1) < gap]
        if candidates:
            chunk = min(candidates, key=lambda c: (abs(2 * weights.get(c, 1) - gap), c))
            return chunk, hi, lo
    return None

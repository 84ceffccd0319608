"""The task table ``efd_tasks``: one transform window per exposure, its state (pending, running,
completed, failed), attempts and last error; rewritten on the core with ``Engine.replace_rows``.
A failed window is retried after a backoff of RETRY_BASE_S * 2^(attempts - 1) seconds."""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from qserv.payloads.efd import tables as t

RETRY_BASE_S = 60.0


class Tasks:
    def __init__(self, efd):
        self.efd = efd
        self.name = efd.qualified(t.TASKS)

    def read(self):
        return self.efd.engine.read_table(self.name).sort_by("window_start_mjd_tai")

    def add(self, exposures):
        """Pending tasks for ``exposures`` (new ones, or replaced ones: their windows may have moved)."""
        kept = self.read()
        attempts = dict(zip(kept["exposure_id"].to_pylist(), kept["attempts"].to_pylist()))
        ids = exposures["exposure_id"].to_pylist()
        self._write(ids, exposures["obs_start_mjd_tai"], exposures["obs_end_mjd_tai"], ["pending"] * len(ids),
                    [attempts.get(i, 0) for i in ids], [None] * len(ids))

    def _write(self, ids, starts, ends, states, attempts, errors):
        from qserv.payloads.efd.api import now_mjd

        rows = pa.table({"exposure_id": pa.array(ids, pa.int64()),
                         "window_start_mjd_tai": pa.array(starts, pa.float64()),
                         "window_end_mjd_tai": pa.array(ends, pa.float64()),
                         "state": pa.array(states, pa.string()), "attempts": pa.array(attempts, pa.int32()),
                         "error": pa.array(errors, pa.string()),
                         "updated_mjd_tai": pa.array([now_mjd()] * len(ids), pa.float64())})
        self.efd.engine.replace_rows(self.name, "exposure_id", rows)

    def _set(self, rows, states, attempts, errors):
        self._write(rows["exposure_id"].to_pylist(), rows["window_start_mjd_tai"], rows["window_end_mjd_tai"],
                    states, attempts, errors)

    def due(self, since, until, max_attempts):
        """Tasks to run: pending, running (left by a run that stopped), or failed fewer than
        ``max_attempts`` times and longer ago than their backoff, starting in [since, until]."""
        from qserv.payloads.efd.api import now_mjd

        rows = self.read()
        start = rows["window_start_mjd_tai"].to_numpy()
        state = np.array(rows["state"].to_pylist(), dtype=object)
        attempts = rows["attempts"].to_numpy()
        backoff_days = RETRY_BASE_S * 2.0 ** np.maximum(attempts - 1, 0) / 86_400.0
        retry = (state == "failed") & (attempts < max_attempts) & \
            (rows["updated_mjd_tai"].to_numpy() + backoff_days <= now_mjd())
        keep = (state == "pending") | (state == "running") | retry
        if since is not None:
            keep &= start >= since
        if until is not None:
            keep &= start <= until
        return rows.filter(pa.array(keep))

    def mark(self, windows, state, error=None):
        """Set the state of the tasks of ``windows`` (running counts an attempt)."""
        rows = self.read()
        rows = rows.filter(pc.is_in(rows["exposure_id"], windows["exposure_id"]))
        attempts = rows["attempts"].to_numpy() + (1 if state == "running" else 0)
        self._set(rows, [state] * rows.num_rows, attempts.tolist(), [error] * rows.num_rows)

    def reopen(self, low, high):
        """Back to pending: tasks whose window meets [low, high] (late telemetry, a re-run);
        returns how many."""
        rows = self.read()
        meets = (rows["window_end_mjd_tai"].to_numpy() >= low) & (rows["window_start_mjd_tai"].to_numpy() <= high)
        state = np.array(rows["state"].to_pylist(), dtype=object)
        selected = rows.filter(pa.array(meets & (state != "pending")))
        if selected.num_rows:
            self._set(selected, ["pending"] * selected.num_rows, [0] * selected.num_rows,
                      [None] * selected.num_rows)
        return selected.num_rows

    def counts(self):
        rows = self.read()
        states = rows["state"].to_pylist()
        return {state: states.count(state) for state in t.STATES}

"""What running a query needs of an open instance, handed to ``QueryRun`` and ``explain`` instead
of the Engine itself: the query path reaches nothing else.

- ``workers``: opens a snapshot's workers (query functions installed once per connection) and
  remembers failures (``failed``: reopen on next use; ``recently_failed``: prefer other replicas
  for ``worker_suspect_s``);
- ``chunks_holding(database, table, keys, hidden_transactions)``: the director index lookup;
- ``czar``: the merge database; ``statement_pool``: the threads worker statements run on;
- ``settings``: the instance settings (``qserv.settings``).
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
import threading
import time
from typing import Callable

from qserv.sql.worker_functions import install as install_functions


class WorkerAccess:
    """Open workers of a WorkerPool for queries; thread-safe."""

    def __init__(self, pool, suspect_s):
        self._pool = pool
        self._suspect_s = suspect_s
        self._installed = set()  # worker ids whose open connection has the query functions
        self._lock = threading.Lock()
        self._failed_at = {}  # worker id -> time.monotonic() of its last unavailability

    def open(self, worker_ref):
        """The open Worker of a snapshot's worker, with the query functions installed."""
        worker = self._pool.get(worker_ref)
        with self._lock:
            if worker_ref.id not in self._installed:
                install_functions(worker)
                self._installed.add(worker_ref.id)
        return worker

    def failed(self, worker_id):
        """A worker could not be reached: reopen it on next use, and prefer its replicas for a
        while (setting ``worker_suspect_s``)."""
        self._failed_at[worker_id] = time.monotonic()
        with self._lock:
            self._installed.discard(worker_id)
        self._pool.discard(worker_id)

    def recently_failed(self, worker_id):
        failed_at = self._failed_at.get(worker_id)
        return failed_at is not None and time.monotonic() - failed_at < self._suspect_s


@dataclass(frozen=True)
class ExecutionContext:
    workers: WorkerAccess
    chunks_holding: Callable
    czar: object  # qserv.merge.czar.Czar
    statement_pool: ThreadPoolExecutor
    settings: dict

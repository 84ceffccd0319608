"""The open worker connections of an engine, keyed by worker id."""

from pathlib import Path
import threading


class WorkerPool:
    """``home``: the instance home, against which DuckDB workers' relative file paths resolve (so a
    copied home uses its own files)."""

    def __init__(self, home=None):
        self.home = Path(home) if home is not None else None
        self._workers = {}
        self._lock = threading.Lock()

    def location(self, worker_row):
        """Where a worker is: its DSN, or its DuckDB file made absolute against the home."""
        if worker_row.backend == "duckdb" and self.home is not None:
            return str(self.home / worker_row.location)  # an absolute location stays as it is
        return worker_row.location

    def get(self, worker_row):
        """The open Worker for a ``qserv.meta.models.Worker`` row (opened on first use)."""
        from qserv.exec.backends import open_worker

        with self._lock:
            worker = self._workers.get(worker_row.id)
            if worker is None:
                worker = open_worker(worker_row.name, worker_row.backend, self.location(worker_row))
                self._workers[worker_row.id] = worker
            return worker

    def discard(self, worker_id):
        """Close and forget a worker's connection (it failed); the next ``get`` opens it again."""
        with self._lock:
            worker = self._workers.pop(worker_id, None)
        if worker is not None:
            try:
                worker.close()
            except Exception:  # closing a broken connection may fail too; it is gone either way
                pass

    def close(self):
        with self._lock:
            for worker in self._workers.values():
                worker.close()
            self._workers.clear()

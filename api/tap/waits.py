"""Blocking UWS WAIT without holding the threads other requests need.

At most ``slots`` requests wait at once (a request beyond answers at once with the job as it is).
A waiter sleeps on a condition and wakes when :meth:`JobWaits.changed` reports its job changed
(the routes and the runner call it after committing a phase change), when its time is up, or
when the service closes; it never polls.
"""

from contextlib import contextmanager
import threading


class JobWaits:
    def __init__(self, slots):
        self._slots = threading.BoundedSemaphore(slots) if slots > 0 else None
        self._condition = threading.Condition()
        self._versions = {}  # job id -> [changes seen, waiters]
        self._closed = False

    @contextmanager
    def watching(self, job_id):
        """A Watch of ``job_id`` while inside, or None when every slot is taken."""
        if self._slots is None or not self._slots.acquire(blocking=False):
            yield None
            return
        with self._condition:
            entry = self._versions.setdefault(job_id, [0, 0])
            entry[1] += 1
        try:
            yield Watch(self, entry)
        finally:
            with self._condition:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._versions[job_id]
            self._slots.release()

    def changed(self, job_id):
        """Wake the requests waiting on ``job_id``."""
        with self._condition:
            entry = self._versions.get(job_id)
            if entry is not None:
                entry[0] += 1
                self._condition.notify_all()

    def close(self):
        """Wake every waiter for good (the service is stopping)."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    @property
    def closed(self):
        return self._closed

    @property
    def condition(self):
        return self._condition


class Watch:
    """One request's watch of a job: read :attr:`version` before looking at the job, then
    :meth:`wait` returns once the job changed after that read (or the time is up)."""

    def __init__(self, waits, entry):
        self._waits, self._entry = waits, entry

    @property
    def version(self):
        with self._waits.condition:
            return self._entry[0]

    def wait(self, seen, timeout_s):
        """Sleep until the job changes after version ``seen`` or ``timeout_s`` passes; False if the
        service is closing."""
        with self._waits.condition:
            self._waits.condition.wait_for(lambda: self._waits.closed or self._entry[0] != seen, timeout_s)
            return not self._waits.closed

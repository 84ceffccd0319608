"""Queries running in this process, so that the old copy of a moved chunk is deleted only once no
query that may still read it (one that read the placement before the switch) is running."""

from contextlib import contextmanager
import itertools
import threading


class RunningQueries:
    def __init__(self):
        self._condition = threading.Condition()
        self._counter = itertools.count(1)
        self._running = set()

    @contextmanager
    def track(self):
        """Around a query, from before it reads the placement until its last worker statement."""
        with self._condition:
            ticket = next(self._counter)
            self._running.add(ticket)
        try:
            yield
        finally:
            with self._condition:
                self._running.discard(ticket)
                self._condition.notify_all()

    def wait_for_started(self, timeout_s=None):
        """Wait until every query that started before this call has finished (or ``timeout_s``);
        whether they all did."""
        with self._condition:
            started = set(self._running)
            return self._condition.wait_for(lambda: not (started & self._running), timeout_s)

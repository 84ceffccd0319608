"""Cancelling a running query: a deadline and the interrupt hooks of its running statements."""

from contextlib import contextmanager
import threading
import time

from qserv.errors import QueryCancelledError


class Cancellation:
    """Shared by the statements of one query. ``cancel()`` interrupts those running now and
    refuses to start new ones; ``check()`` raises once cancelled or past the deadline."""

    def __init__(self, timeout_s=None):
        self.timeout_s = timeout_s
        self.deadline = None if timeout_s is None else time.monotonic() + timeout_s
        self.reason = None
        self.progress = None  # a qserv.progress.ChunkProgress the dispatcher keeps up to date
        self._interrupts = {}
        self._lock = threading.Lock()

    @property
    def cancelled(self):
        return self.reason is not None

    @property
    def running_statements(self):
        """How many of the query's statements are running now."""
        with self._lock:
            return len(self._interrupts)

    def remaining_s(self):
        return None if self.deadline is None else max(0.0, self.deadline - time.monotonic())

    def cancel(self, reason="the query was cancelled"):
        with self._lock:
            if self.reason is None:
                self.reason = reason
            interrupts = list(self._interrupts.values())
        for interrupt in interrupts:
            try:
                interrupt()
            except Exception:  # an interrupt of a statement that just finished is harmless
                pass

    def _expire(self):
        self.cancel(f"the query ran longer than its time limit of {self.timeout_s:g} s")

    def check(self):
        if self.deadline is not None and time.monotonic() > self.deadline and self.reason is None:
            self._expire()
        if self.reason is not None:
            raise QueryCancelledError(self.reason)

    @contextmanager
    def timed(self):
        """Enforce the deadline while the body runs, with nobody calling ``check()`` (a statement
        run on this thread, e.g. at the czar): a timer cancels the query when time is up."""
        remaining = self.remaining_s()
        if remaining is None:
            yield
            return
        timer = threading.Timer(remaining, self._expire)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()

    @contextmanager
    def interruptible(self, interrupt):
        """Run a statement that ``interrupt()`` stops; raises QueryCancelledError if stopped."""
        self.check()
        token = object()
        with self._lock:
            self._interrupts[token] = interrupt
        try:
            yield
        except Exception:
            self.check()
            raise
        finally:
            with self._lock:
                self._interrupts.pop(token, None)
        self.check()


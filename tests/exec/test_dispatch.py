"""Dispatch: parallel statements, first failure wins, deadlines interrupt, LIMIT stops early."""

import threading
import time

import pyarrow as pa
import pytest

from qserv.exec.cancel import Cancellation
from qserv.exec.dispatch import Statement, run_statements
from qserv.errors import QueryCancelledError, ResultTooLargeError, WorkerQueryError


class FakeWorker:
    """Answers ``rows:N`` with N rows, ``fail`` with an error, ``sleep`` until interrupted."""

    def __init__(self):
        self.started = []
        self.interrupted = threading.Event()

    def query(self, sql, cancellation=None):
        self.started.append(sql)
        if sql == "fail":
            raise WorkerQueryError("worker fake: boom")
        if sql == "sleep":
            with cancellation.interruptible(self.interrupted.set):
                if not self.interrupted.wait(10):
                    raise AssertionError("never interrupted")
                raise RuntimeError("interrupted")
        return pa.table({"x": list(range(int(sql.split(":")[1])))})


def test_results_come_back_in_statement_order():
    worker = FakeWorker()
    statements = [Statement(worker, f"rows:{n}") for n in (3, 1, 2)]
    results = run_statements(statements, Cancellation(), threads=3)
    assert [r.num_rows for r in results] == [3, 1, 2]


def test_first_failure_is_raised_and_interrupts_the_others():
    worker = FakeWorker()
    statements = [Statement(worker, "sleep"), Statement(worker, "fail")]
    started = time.monotonic()
    with pytest.raises(WorkerQueryError, match="boom"):
        run_statements(statements, Cancellation(), threads=2)
    assert worker.interrupted.is_set() and time.monotonic() - started < 5


def test_deadline_interrupts_running_statements():
    worker = FakeWorker()
    with pytest.raises(QueryCancelledError, match="time limit"):
        run_statements([Statement(worker, "sleep")], Cancellation(timeout_s=0.2), threads=1)
    assert worker.interrupted.is_set()


def test_row_limit_stops_starting_statements():
    worker = FakeWorker()
    statements = [Statement(worker, "rows:5") for _ in range(10)]
    results = run_statements(statements, Cancellation(), threads=1, row_limit=7)
    assert len(worker.started) == 2 and sum(r.num_rows for r in results) == 10


def test_a_failed_statement_is_replaced_by_what_reroute_returns():
    worker, spare = FakeWorker(), FakeWorker()
    statements = [Statement(worker, "rows:3", (1,)), Statement(worker, "fail", (2, 3)), Statement(worker, "rows:1", (4,))]
    rerouted = []

    def reroute(statement, error):
        rerouted.append((statement.chunk_ids, str(error)))
        return [Statement(spare, "rows:2", (2,)), Statement(spare, "rows:4", (3,))]

    results = run_statements(statements, Cancellation(), threads=1, reroute=reroute)
    assert rerouted == [((2, 3), "worker fake: boom")]
    assert [r.num_rows for r in results] == [3, 1, 2, 4] and spare.started == ["rows:2", "rows:4"]


def test_reroute_refusing_fails_the_query():
    def reroute(statement, error):
        raise WorkerQueryError("no replica left")

    with pytest.raises(WorkerQueryError, match="no replica left"):
        run_statements([Statement(FakeWorker(), "fail")], Cancellation(), threads=1, reroute=reroute)


def test_partial_results_over_the_size_limit_are_refused():
    statements = [Statement(FakeWorker(), "rows:1000") for _ in range(4)]
    with pytest.raises(ResultTooLargeError, match="too large"):
        run_statements(statements, Cancellation(), threads=1, max_bytes=20_000)
    assert sum(r.num_rows for r in run_statements(statements, Cancellation(), threads=1, max_bytes=40_000)) == 4000

"""Running a query's worker statements in parallel, with a time limit and cancellation.

``run_statements(statements, cancellation, threads, row_limit)`` runs ``(worker, sql)`` pairs on a
thread pool (at most ``threads`` at a time) and returns their Arrow results in statement order.
The first failure cancels the statements still running and is raised; past the deadline every
running statement is interrupted and ``QueryCancelledError`` is raised: never a partial result.
With ``row_limit`` (a LIMIT without ORDER BY), no new statement starts once that many rows arrived.
"""

from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass

from qserv.exec.cancel import QueryCancelledError


@dataclass(frozen=True)
class Statement:
    worker: object  # qserv.exec.worker.Worker
    sql: str
    chunks: int = 0  # how many chunks it covers (for the query log)


def run_statements(statements, cancellation, threads, row_limit=None):
    results = [None] * len(statements)
    pending = list(enumerate(statements))
    running = {}
    rows = 0
    with ThreadPoolExecutor(max(1, min(threads, len(statements)))) as pool:
        try:
            while pending or running:
                while pending and len(running) < threads and (row_limit is None or rows < row_limit):
                    index, statement = pending.pop(0)
                    future = pool.submit(statement.worker.query, statement.sql, cancellation)
                    running[future] = index
                if not running:
                    break
                done, _ = wait(running, timeout=cancellation.remaining_s(), return_when=FIRST_COMPLETED)
                if not done:
                    cancellation.check()  # past the deadline: cancels and raises
                for future in done:
                    index = running.pop(future)
                    results[index] = future.result()
                    rows += results[index].num_rows
        except BaseException as error:
            if not isinstance(error, QueryCancelledError):
                cancellation.cancel(f"cancelled after another statement failed: {error}")
            wait(running)
            raise
    return [result for result in results if result is not None]

"""Queries keep answering exactly (against an unsharded DuckDB) while a drain and a rebalance move
chunks under them, on both backends."""

import threading

import qserv

from .conftest import check_queries


def test_queries_stay_exact_during_drain_and_rebalance(home, reference, backend, new_postgres_database):
    with qserv.open(home) as engine:
        stop = threading.Event()
        results = {"rounds": 0, "wrong": [], "errors": []}

        def query_loop():
            while not stop.is_set():
                try:
                    results["wrong"] += check_queries(engine, reference)
                except Exception as exc:  # recorded: the test fails on any
                    results["errors"].append(repr(exc))
                results["rounds"] += 1

        thread = threading.Thread(target=query_loop)
        thread.start()
        try:
            engine.drain_worker("worker1")
            engine.add_worker("worker4", backend, new_postgres_database() if backend == "postgres" else None)
            moved = engine.rebalance("sky")
            engine.replicate("sky", 2)
        finally:
            stop.set()
            thread.join()
        assert moved > 0
        assert results["errors"] == [] and results["wrong"] == []
        assert results["rounds"] >= 3
        assert engine.verify("sky").problems == []

"""Workers on three separate PostgreSQL servers (own data directories and ports, made with initdb
and pg_ctl by the test): load with replication 2, a server stopped hard during queries, drain,
verify, remove; every answer equals the unsharded reference throughout."""

import pytest

import qserv
from qserv.instance import init_instance

from .conftest import check_queries, load
from .pg_servers import PostgresServers


@pytest.fixture
def servers():
    found = PostgresServers(3)
    yield found
    found.close()


def test_three_servers_replicas_failover_drain_verify(servers, reference, tmp_path):
    home = tmp_path / "home"
    init_instance(home, backend="postgres", worker_dsns=[servers.dsn(i) for i in range(3)])
    load(home, replication=2)
    with qserv.open(home) as engine:
        held = {w.name: w.chunks for w in engine.list_workers()}
        assert all(held.values()) and check_queries(engine, reference) == []
        servers.stop(2)  # worker3's server crashes: its chunks are read from their other replica
        assert check_queries(engine, reference) == []
        down = {w.name: w.error for w in engine.list_workers()}
        assert down["worker3"] and not down["worker1"] and not down["worker2"]
        servers.start(2)
        report = engine.verify("sky")
        assert report.problems == [] and report.replicas == 2 * report.chunks
        engine.drain_worker("worker1")  # its chunks go to workers 2 and 3, which hold the other replica
        assert check_queries(engine, reference) == []
        workers = {w.name: w for w in engine.list_workers()}
        assert (workers["worker1"].state, workers["worker1"].chunks) == ("drained", 0)
        report = engine.verify("sky")
        assert report.problems == [] and workers["worker2"].chunks == workers["worker3"].chunks == report.chunks
        engine.remove_worker("worker1")
        assert check_queries(engine, reference) == []

"""The DBA commands: output, JSON, and bad input as `error: ...` with exit status 2."""

import json
import subprocess
import sys

import pytest


def qserv(home, *args):
    return subprocess.run([sys.executable, "-m", "qserv.cli", "--home", str(home), *args],
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("backend", ["duckdb"], indirect=True)
def test_worker_and_replica_commands(home):
    listed = json.loads(qserv(home, "worker", "list", "--json").stdout)
    assert [w["name"] for w in listed] == ["worker1", "worker2", "worker3"]
    total = sum(w["chunks"] for w in listed)
    assert qserv(home, "worker", "add", "worker4", "--backend", "duckdb").returncode == 0
    assert qserv(home, "rebalance", "sky").returncode == 0
    assert qserv(home, "replicate", "sky", "--level", "2").returncode == 0
    assert qserv(home, "worker", "drain", "worker1").returncode == 0
    listed = {w["name"]: w for w in json.loads(qserv(home, "worker", "list", "--json").stdout)}
    assert listed["worker1"]["state"] == "drained" and listed["worker1"]["chunks"] == 0
    assert sum(w["chunks"] for w in listed.values()) == 2 * total
    report = json.loads(qserv(home, "verify", "sky", "--json").stdout)
    assert report["problems"] == [] and report["replicas"] == 2 * total
    assert qserv(home, "worker", "remove", "worker1").returncode == 0
    text = qserv(home, "worker", "list").stdout.splitlines()
    assert text[0].split("\t")[:3] == ["name", "backend", "state"] and len(text) == 4


@pytest.mark.parametrize("backend", ["duckdb"], indirect=True)
@pytest.mark.parametrize("args, message", [
    (["worker", "drain", "nope"], "no worker 'nope'"),
    (["worker", "remove", "worker1"], "only replica"),
    (["worker", "add", "w9"], "give --backend duckdb or --dsn DSN"),
    (["worker", "add", "w9", "--dsn", "host=127.0.0.1 port=1 dbname=x connect_timeout=2"], "cannot use the new worker"),
    (["replicate", "sky", "--level", "0"], "between 1 and the number of active workers"),
    (["replicate", "nosuch", "--level", "1"], "no database 'nosuch'"),
    (["verify", "nosuch"], "no database 'nosuch'"),
])
def test_bad_input_exits_2(home, args, message):
    result = qserv(home, *args)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and message in result.stderr

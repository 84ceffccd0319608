"""`qserv --url`: the DBA and ingest commands through a running `qserv serve` (a subprocess on a
free port) while TAP clients query it; every answer equals the unsharded reference of the rows
committed so far (an ingest appears all at once), and the server-side operations match."""

import json
import os
from pathlib import Path
import subprocess
import sys
import threading
import time

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import requests

import qserv
from qserv.instance import init_instance
from qserv.meta.users import add_user, create_token

from tests.api.test_admin_api import rows as batch

from .pg_servers import free_port

QSERV = str(Path(sys.executable).with_name("qserv"))
TOTAL = "SELECT COUNT(*) AS n, SUM(mag) AS s, MAX(objectId) AS hi FROM sky.Object"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(base URL, {user: token}, folder) of a `qserv serve` over a new instance with 3 workers."""
    folder = tmp_path_factory.mktemp("remote")
    home = folder / "home"
    init_instance(home, workers=3)
    with qserv.open(home) as engine, engine.store.session() as session:
        add_user(session, "alice")
        add_user(session, "root", is_admin=True)
        tokens = {name: create_token(session, name) for name in ("alice", "root")}
    port = free_port()
    log = open(folder / "serve.log", "wb")
    process = subprocess.Popen([QSERV, "--home", str(home), "serve", "--port", str(port)], stdout=log,
                               stderr=subprocess.STDOUT, env={**os.environ, "QSERV_DEBUG": ""})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if requests.get(f"{url}/tap/availability", timeout=2).ok:
                break
        except requests.RequestException:  # not listening yet, or too busy to answer in time
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError((folder / "serve.log").read_text())
        time.sleep(0.2)
    yield url, tokens, folder
    process.terminate()
    process.wait(timeout=60)
    log.close()


def run(server, *arguments, token="root", expect=0):
    url, tokens, _ = server
    env = {**os.environ, "QSERV_URL": url, "QSERV_TOKEN": tokens[token], "QSERV_HOME": "/nonexistent"}
    done = subprocess.run([QSERV, *arguments], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == expect, (arguments, done.stdout, done.stderr)
    return done


def tap_total(url, token):
    answer = requests.get(f"{url}/tap/sync", params={"LANG": "ADQL", "QUERY": TOTAL, "RESPONSEFORMAT": "csv"},
                          headers={"Authorization": f"Bearer {token}"}, timeout=120)
    assert answer.status_code == 200, answer.text
    n, s, hi = answer.text.splitlines()[1].split(",")
    return int(n), float(s), int(hi)


def oracle(*tables):
    joined = pa.concat_tables(tables)
    return duckdb.sql("SELECT COUNT(*), SUM(mag), MAX(objectId) FROM joined").fetchall()[0]


def same(found, expected):
    return found[0] == expected[0] and found[2] == expected[2] and abs(found[1] - expected[1]) < 1e-6 * abs(expected[1])


def test_ingest_and_dba_through_the_server_while_tap_queries(server):
    url, tokens, folder = server
    first, second = batch(0, 20000, 1), batch(20000, 20000, 2)
    pq.write_table(first, folder / "first.parquet")
    pacsv.write_csv(second, folder / "second.csv")
    run(server, "db", "create", "sky", "--chunk-order", "1", "--subchunk-order", "5")
    run(server, "table", "create", "sky.Object", "--like", str(folder / "first.parquet"), "--kind", "director",
        "--id", "objectId", "--ra", "ra", "--dec", "decl")
    assert "20000 rows" in run(server, "ingest", "sky.Object", str(folder / "first.parquet")).stdout
    run(server, "publish", "sky")
    states = [oracle(first), oracle(first, second)]
    assert same(tap_total(url, tokens["alice"]), states[0])

    answers, stop = [], threading.Event()

    def query_loop():
        while not stop.is_set():
            answers.append(tap_total(url, tokens["alice"]))

    reader = threading.Thread(target=query_loop)
    reader.start()
    try:
        out = run(server, "ingest", "sky.Object", str(folder / "second.csv")).stdout
    finally:
        stop.set()
        reader.join()
    assert "20000 rows" in out and answers
    assert all(same(a, states[0]) or same(a, states[1]) for a in answers), answers[:5]
    assert same(tap_total(url, tokens["alice"]), states[1])

    stats = run(server, "table", "stats", "sky.Object").stdout
    assert "rows: 40000" in stats
    run(server, "replicate", "sky", "--level", "2")
    listed = json.loads(run(server, "worker", "list", "--json").stdout)
    assert sum(w["chunks"] for w in listed) == 2 * len(run(server, "chunks", "sky.Object", "--all").stdout
                                                       .split("chunk\trows\toverlap_rows\tworkers\n")[1].splitlines())
    report = json.loads(run(server, "verify", "sky", "--json").stdout)
    assert report["problems"] == [] and report["replicas"] == 2 * report["chunks"]
    assert "indexed sky.Object.mag on 3 worker(s)" in run(server, "index", "create", "sky.Object", "mag").stdout
    assert "mag\t" in run(server, "index", "list", "sky.Object").stdout
    run(server, "chunks", "sky.Object", "--map", str(folder / "map.png"))
    assert (folder / "map.png").read_bytes().startswith(b"\x89PNG")
    states_listed = [line.split("\t")[2] for line in
                     run(server, "transaction", "list", "--db", "sky").stdout.splitlines()[1:]]
    assert states_listed[:2] == ["committed", "committed"] and "open" not in states_listed
    assert same(tap_total(url, tokens["alice"]), states[1])


def test_remote_errors(server):
    assert "administrator" in run(server, "worker", "list", token="alice", expect=2).stderr
    assert "no worker 'nosuch'" in run(server, "worker", "drain", "nosuch", expect=2).stderr
    assert "through --url" in run(server, "settings", expect=2).stderr

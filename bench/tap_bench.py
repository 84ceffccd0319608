"""TAP service under load (issues 6 and 15): concurrent clients sending ADQL cone searches (CSV) to
a running ``qserv serve`` (a published catalog at the default chunk order 7, on DuckDB or PostgreSQL
workers, served by one or more processes) for a fixed time; reports requests, errors (with the first
error's text), p50 and p95 latency and the machine's load (``uptime``).

``python -m bench.tap_bench [--backend postgres] [--processes N]`` runs it alone."""

import argparse
import os
from pathlib import Path
import socket
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import requests

import qserv
from bench.data import objects_parquet
from bench.report import format_seconds
from bench.systems import PostgresDatabases
from qserv.instance import init_instance
from qserv.meta.admin import TableSpec
from qserv.schema.infer import columns_from_parquet

ROWS = 1_000_000
CLIENTS = 50
DURATION_S = float(os.environ.get("QSERV_BENCH_TAP_SECONDS", 60))
RADIUS_DEG = 1.0 / 60.0


def _catalog(root, backend, databases):
    home = Path(root) / "home"
    if backend == "postgres":
        init_instance(home, backend="postgres", worker_dsns=[databases.create("qserv_tap_bench") for _ in range(4)])
    else:
        init_instance(home, workers=4)
    path = objects_parquet(ROWS)
    with qserv.open(home) as engine:
        engine.create_database("bench", chunk_order=7, subchunk_order=10, overlap_arcsec=60.0)
        engine.create_table("bench.Object", TableSpec(kind="director", columns=columns_from_parquet(path),
                                                      id_column="id", ra_column="ra", dec_column="dec"))
        engine.ingest("bench.Object", [path])
        engine.publish("bench")  # TAP serves published databases only
    return home


def _serve(home, processes):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [str(Path(sys.executable).with_name("qserv")), "--home", str(home), "serve", "--port", str(port),
               "--threads", str(CLIENTS), *(["--processes", str(processes)] if processes > 1 else [])]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/tap"
    for _ in range(300):
        try:
            if requests.get(f"{url}/availability", timeout=1).ok:
                return process, url
        except requests.RequestException:  # not listening yet, or listening but still starting
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("qserv serve did not start")


def _client(url, seed, cold, started, stop_at, latencies, errors):
    """One client: a first (cold) request timed into ``cold``, then, once every client has had its
    first answer (``started``), requests until ``stop_at`` timed into ``latencies``."""
    rng = np.random.default_rng(seed)
    session = requests.Session()
    timed = cold
    while timed is cold or time.monotonic() < stop_at[0]:
        ra, dec = rng.uniform(0, 360), np.degrees(np.arcsin(rng.uniform(-1, 1)))
        query = (f"SELECT id, ra, dec, flux_0 FROM bench.Object WHERE "
                 f"CONTAINS(POINT(ra, dec), CIRCLE({ra:.6f}, {dec:.6f}, {RADIUS_DEG:.6f})) = 1")
        start = time.perf_counter()
        try:
            response = session.post(f"{url}/sync", data={"LANG": "ADQL", "FORMAT": "csv", "QUERY": query}, timeout=60)
            error = None if response.status_code == 200 else f"HTTP {response.status_code}: {response.text[-300:]}"
        except requests.RequestException as exception:
            error = repr(exception)
        if error is None:
            timed.append(time.perf_counter() - start)
        else:
            errors.append(error)
        if timed is cold:
            started.wait()
            timed = latencies


def bench_tap_concurrency(backend="duckdb", processes=1):
    databases = PostgresDatabases()
    with tempfile.TemporaryDirectory() as root:
        try:
            process, url = _serve(_catalog(root, backend, databases), processes)
        except BaseException:
            databases.drop_all()
            raise
        try:
            cold, latencies, errors, stop_at = [], [], [], [None]
            started = threading.Barrier(CLIENTS, action=lambda: stop_at.__setitem__(0, time.monotonic() + DURATION_S))
            threads = [threading.Thread(target=_client, args=(url, seed, cold, started, stop_at, latencies, errors))
                       for seed in range(CLIENTS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            load = os.getloadavg()
        finally:
            process.terminate()
            process.wait(timeout=30)
            databases.drop_all()
    p50, p95 = (float(np.percentile(latencies, q)) if latencies else float("nan") for q in (50, 95))
    served = f"{backend} workers, {processes} server process{'es' if processes > 1 else ''}"
    note = (f"{CLIENTS} clients for {DURATION_S:g} s, cone r=1 arcmin over {ROWS:,} rows at chunk order 7 "
            f"({served}), ADQL to CSV; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end; {len(latencies)} answered ({len(latencies) / DURATION_S:.0f}/s), {len(errors)} errors"
            + (f", first: {errors[0]}" if errors else "")
            + (f"; before timing, every client's first request at once: p95 {format_seconds(np.percentile(cold, 95))}"
               if cold else ""))
    met = bool(latencies) and p95 <= 0.1 and not errors
    return [("TAP /sync cone search, p50", format_seconds(p50), note),
            ("TAP /sync cone search, p95", format_seconds(p95),
             f"target p95 <= 100 ms, 0 errors: {'met' if met else 'missed'}")]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("duckdb", "postgres"), default="duckdb")
    parser.add_argument("--processes", type=int, default=1)
    args = parser.parse_args()
    for row in bench_tap_concurrency(args.backend, args.processes):
        print(row)

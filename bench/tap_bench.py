"""TAP service under load (issue 6): concurrent clients sending ADQL cone searches (CSV) to a
running ``qserv serve`` for a fixed time; reports requests, errors, p50 and p95 latency."""

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
from qserv.instance import init_instance
from qserv.meta.admin import TableSpec
from qserv.schema.infer import columns_from_parquet

ROWS = 1_000_000
CLIENTS = 50
DURATION_S = float(os.environ.get("QSERV_BENCH_TAP_SECONDS", 60))
RADIUS_DEG = 1.0 / 60.0


def _catalog(root):
    home = Path(root) / "home"
    init_instance(home, workers=4)
    path = objects_parquet(ROWS)
    with qserv.open(home) as engine:
        engine.create_database("bench", chunk_order=7, subchunk_order=10, overlap_arcsec=60.0)
        engine.create_table("bench.Object", TableSpec(kind="director", columns=columns_from_parquet(path),
                                                      id_column="id", ra_column="ra", dec_column="dec"))
        engine.ingest("bench.Object", [path])
    return home


def _serve(home):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [str(Path(sys.executable).with_name("qserv")), "--home", str(home), "serve", "--port", str(port),
               "--threads", str(CLIENTS)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/tap"
    for _ in range(300):
        try:
            if requests.get(f"{url}/availability", timeout=1).ok:
                return process, url
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("qserv serve did not start")


def _client(url, seed, stop_at, latencies, errors):
    rng = np.random.default_rng(seed)
    session = requests.Session()
    while time.monotonic() < stop_at:
        ra, dec = rng.uniform(0, 360), np.degrees(np.arcsin(rng.uniform(-1, 1)))
        query = (f"SELECT id, ra, dec, flux_0 FROM bench.Object WHERE "
                 f"CONTAINS(POINT(ra, dec), CIRCLE({ra:.6f}, {dec:.6f}, {RADIUS_DEG:.6f})) = 1")
        start = time.perf_counter()
        try:
            response = session.post(f"{url}/sync", data={"LANG": "ADQL", "FORMAT": "csv", "QUERY": query}, timeout=60)
            ok = response.status_code == 200
        except requests.RequestException:
            ok = False
        (latencies if ok else errors).append(time.perf_counter() - start)


def bench_tap_concurrency():
    with tempfile.TemporaryDirectory() as root:
        process, url = _serve(_catalog(root))
        try:
            latencies, errors = [], []
            stop_at = time.monotonic() + DURATION_S
            threads = [threading.Thread(target=_client, args=(url, seed, stop_at, latencies, errors))
                       for seed in range(CLIENTS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            process.terminate()
            process.wait(timeout=30)
    p50, p95 = (np.percentile(latencies, q) * 1000 for q in (50, 95))
    note = (f"{CLIENTS} clients for {DURATION_S:g} s, cone r=1 arcmin over {ROWS:,} rows, ADQL to CSV; "
            f"{len(latencies)} answered ({len(latencies) / DURATION_S:.0f}/s), {len(errors)} errors")
    return [("TAP /sync cone search, p50", f"{p50:.0f} ms", note),
            ("TAP /sync cone search, p95", f"{p95:.0f} ms", "target 100 ms")]


if __name__ == "__main__":
    for row in bench_tap_concurrency():
        print(row)

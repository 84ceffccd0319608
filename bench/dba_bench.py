"""DBA benchmark (issue 17), per size on 4 DuckDB workers:

- ingest at the default chunk order (7): the local rate with overlap (``Engine.ingest`` of one
  Parquet file; target 1e6 rows/s) and the rate through the REST API of a running ``qserv serve``
  (``qserv --url ingest``, the same file; target at least 80% of the local rate); both dropped;
- the same rows loaded again at the chunk order ``--expected-rows`` chooses, for the rest:
- verify of the database (replication 1) against one full scan reading every column
  (COUNT(*) + SUM of each column; target: within 2x);
- re-replication after losing one of 4 workers at replication 2 (the worker disabled, then
  ``replicate --level 2``): time back to level 2 and rows (own + overlap copies) copied per second;
- cone-search latency (p50/p95) idle and while a rebalance onto a new fifth worker runs; every
  answer during the rebalance is compared with the idle answer of the same cone.

    python -m bench.dba_bench --sizes 2e6,1e7 [--cones 60] [--output bench/results/issue17]
"""

import argparse
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import requests

import qserv
from bench.data import log, objects_parquet, uniform_sky
from qserv.instance import init_instance
from qserv.meta.admin import TableSpec
from qserv.meta.users import add_user, create_token
from qserv.schema.infer import columns_from_parquet
from qserv.sphere.sizing import chunk_order_for_rows

RESULTS_DIR = Path(__file__).parent / "results" / "issue17"
CONE_RADIUS_DEG = 0.5
SERVER_START_S = 120


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.dba_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1e7", help="rows of the table, comma-separated (default 1e7)")
    parser.add_argument("--cones", type=int, default=60, help="cone searches measured idle (default 60)")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR, help="folder of report.md")
    args = parser.parse_args(argv)
    args.sizes = [int(float(size)) for size in args.sizes.split(",") if size]
    return args


def rate(rows_per_s):
    return f"{rows_per_s / 1e6:.2f} M rows/s" if rows_per_s >= 1e5 else f"{rows_per_s / 1e3:.1f} k rows/s"


def spec(path):
    return TableSpec("director", columns_from_parquet(path), id_column="id", ra_column="ra", dec_column="dec")


def timed(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def cone_sql(ra, dec):
    return (f"SELECT COUNT(*) AS n, SUM(flux_0) AS s FROM loc.Object "
            f"WHERE CONTAINS(POINT(ra, dec), CIRCLE({ra:.6f}, {dec:.6f}, {CONE_RADIUS_DEG})) = 1")


def same_answer(found, expected):
    """The same count, and sums equal but for the order of float additions."""
    (a,), (b,) = found, expected
    return a["n"] == b["n"] and (a["s"] == b["s"] or math.isclose(a["s"], b["s"], rel_tol=1e-9, abs_tol=1e-9))


def cone_answers(engine, cones):
    """([seconds per cone], [answer rows]) of the cones run one after another."""
    seconds, answers = [], []
    for ra, dec in cones:
        spent, answer = timed(lambda: engine.query(cone_sql(ra, dec)).to_pylist())
        seconds.append(spent)
        answers.append(answer)
    return seconds, answers


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(home, port):
    """A `qserv serve` process on ``port`` once it answers."""
    process = subprocess.Popen([str(Path(sys.executable).with_name("qserv")), "--home", str(home), "serve",
                                "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "QSERV_DEBUG": ""})
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(f"http://127.0.0.1:{port}/tap/availability", timeout=2).ok:
                return process
        except requests.RequestException:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("qserv serve did not start")


def ingest_rates(home, path, rows):
    """(local rows/s, REST rows/s) of the same file into two databases of replication 1 at the
    default chunk order; then both dropped (the seconds of that too)."""
    from qserv.cli_remote import RemoteEngine

    with qserv.open(home) as engine:
        engine.create_database("local7")
        engine.create_table("local7.Object", spec(path))
        local_s, _ = timed(lambda: engine.ingest("local7.Object", [path]))
        with engine.store.session() as session:
            add_user(session, "bench", is_admin=True)
            token = create_token(session, "bench")
    port = free_port()
    process = serve(home, port)
    try:
        with RemoteEngine(f"http://127.0.0.1:{port}", token) as remote:
            remote.create_database("rest7")
            remote.create_table("rest7.Object", spec(path))
            rest_s, _ = timed(lambda: remote.ingest("rest7.Object", [path]))
    finally:
        process.terminate()
        process.wait(timeout=120)
    with qserv.open(home) as engine:
        drop_s, _ = timed(lambda: [engine.drop_database(name) for name in ("local7", "rest7")])
    return rows / local_s, rows / rest_s, drop_s


def full_scan_sql(path):
    names = [c.name for c in columns_from_parquet(path)]
    return "SELECT COUNT(*) AS n, " + ", ".join(f"SUM({n}) AS s_{n}" for n in names) + " FROM loc.Object"


def lost_worker(engine):
    """(seconds back to level 2, rows copied) after worker4 is lost at replication 2."""
    on_lost = sum(rows + overlap for _, rows, overlap, workers in engine.chunks("loc.Object") if "worker4" in workers)
    engine.set_worker_state("worker4", "disabled")
    seconds, _ = timed(lambda: engine.replicate("loc", 2))
    engine.remove_worker("worker4")
    return seconds, on_lost


def during_rebalance(engine, cones, idle_answers):
    """(seconds per cone while the rebalance ran, mismatches, rebalance seconds, moves)."""
    engine.add_worker("worker5")
    done, result = threading.Event(), {}

    def rebalance():
        try:
            result["seconds"], result["moves"] = timed(lambda: engine.rebalance("loc"))
        finally:
            done.set()

    thread = threading.Thread(target=rebalance)
    thread.start()
    seconds, wrong, k = [], 0, 0
    while not done.is_set():
        ra, dec = cones[k % len(cones)]
        spent, answer = timed(lambda: engine.query(cone_sql(ra, dec)).to_pylist())
        seconds.append(spent)
        wrong += not same_answer(answer, idle_answers[k % len(cones)])
        k += 1
    thread.join()
    return seconds, wrong, result["seconds"], result["moves"]


def run_size(rows, cones_count, root):
    """The report rows ``(workload, value, note)`` of one size."""
    path = objects_parquet(rows)
    home = root / f"home-{rows}"
    init_instance(home, workers=4)
    local, rest, drop_s = ingest_rates(home, path, rows)
    found = [(f"{rows:.0e} rows: local ingest with overlap, chunk order 7", rate(local),
              f"target 1 M rows/s: {'met' if local >= 1e6 else 'MISSED'}"),
             ("REST ingest (qserv --url), chunk order 7", rate(rest),
              f"{rest / local:.0%} of local; target 80%: {'met' if rest >= 0.8 * local else 'MISSED'}"),
             ("db drop of both (chunk order 7)", f"{drop_s:.1f} s", "")]
    order = chunk_order_for_rows(rows)  # what `qserv db create --expected-rows` chooses
    with qserv.open(home) as engine:
        engine.create_database("loc", chunk_order=order)
        engine.create_table("loc.Object", spec(path))
        ingest_s, _ = timed(lambda: engine.ingest("loc.Object", [path]))
        found.append((f"local ingest with overlap, chunk order {order} (--expected-rows)",
                      rate(rows / ingest_s), "the database of the rows below"))
        scan_sql = full_scan_sql(path)
        engine.query(scan_sql)  # warm: the plan and the workers' files
        scan_s = min(timed(lambda: engine.query(scan_sql))[0] for _ in range(2))
        verify_s, report = timed(lambda: engine.verify("loc"))
        found.append(("verify (replication 1) vs one full scan (COUNT + SUM of every column)",
                      f"{verify_s:.2f} s vs {scan_s:.2f} s",
                      f"ratio {verify_s / scan_s:.1f}; target 2: {'met' if verify_s <= 2 * scan_s else 'MISSED'}; "
                      f"{len(report.problems)} problem(s)"))
        level_s, _ = timed(lambda: engine.replicate("loc", 2))
        found.append(("replicate level 1 -> 2", f"{level_s:.1f} s", f"{rate(rows / level_s)} (own rows)"))
        rng = np.random.default_rng(17)
        cones = list(zip(*uniform_sky(rng, cones_count)))
        idle, answers = cone_answers(engine, cones)
        lost_s, copied = lost_worker(engine)
        found.append(("one of 4 workers lost at replication 2: back to level 2", f"{lost_s:.1f} s",
                      f"{copied:,} rows copied (own + overlap), {rate(copied / lost_s)}"))
        busy, wrong, rebalance_s, moves = during_rebalance(engine, cones, answers)
        found.append((f"cone r={CONE_RADIUS_DEG} deg p95, idle vs during a rebalance onto a new worker",
                      f"{np.percentile(idle, 95) * 1e3:.0f} ms vs {np.percentile(busy, 95) * 1e3:.0f} ms",
                      f"p50 {np.median(idle) * 1e3:.0f} vs {np.median(busy) * 1e3:.0f} ms; {len(busy)} cones during "
                      f"{moves} moves in {rebalance_s:.1f} s; {wrong} answer(s) unlike idle "
                      "(count, or sum beyond float rounding)"))
        after = engine.verify("loc")
        found.append(("verify after the loss and the rebalance", f"{len(after.problems)} problem(s)",
                      f"{after.replicas} replicas of {after.chunks} chunks"))
    return found


def bench_dba(argv=()):
    """Run the benchmark; the report's markdown lines (also written to output/report.md)."""
    args = parse_args(list(argv))
    lines = ["| workload | value | note |", "|---|---|---|"]
    root = Path(tempfile.mkdtemp(prefix="dba-bench-"))
    try:
        for rows in args.sizes:
            log(f"[dba] {rows} rows")
            start = time.perf_counter()
            lines += [f"| {name} | {value} | {note} |" for name, value, note in run_size(rows, args.cones, root)]
            log(f"[dba] {rows} rows took {time.perf_counter() - start:.0f} s")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    lines += ["", f"4 DuckDB workers, overlap 60 arcsec, a 12-column table (bench.data.objects_parquet); "
              f"{args.cones} random cone centres; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
              "at the end (other processes slow every rate).", ""]
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "report.md").write_text("\n".join(lines) + "\n")
    return lines


if __name__ == "__main__":
    sys.stdout.write("\n".join(bench_dba(sys.argv[1:])) + "\n")

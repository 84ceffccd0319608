"""CLI start time (issue 13, item 5): `qserv --help` and queries on a small table, each run as a
new process the way a user runs it, medians of alternating runs.

Byte-code caches are on (as after `pip install`), kept in a temporary PYTHONPYCACHEPREFIX so the
checkout is not touched; one warm-up run of each command fills them before timing. The CPU time
(user + system) of each process is reported too: on a shared machine it moves less than wall time.
"""

import os
from pathlib import Path
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa

import qserv
from qserv.instance import init_instance
from qserv.meta.admin import TableSpec
from qserv.schema.columns import Column

RUNS = 15
ROWS = 10_000
TARGETS = {"help": 0.3, "query": 0.6}


def _qserv_command():
    script = Path(sys.executable).with_name("qserv")
    return [str(script)] if script.exists() else [sys.executable, "-m", "qserv.cli"]


def _small_instance(home):
    init_instance(home, workers=4)
    rng = np.random.default_rng(8)
    rows = pa.table({"id": np.arange(ROWS, dtype=np.int64), "ra": rng.uniform(0, 360, ROWS),
                     "dec": np.degrees(np.arcsin(rng.uniform(-1, 1, ROWS))), "mag": rng.uniform(10, 20, ROWS)})
    columns = [Column("id", "long", False), Column("ra", "double", False), Column("dec", "double", False),
               Column("mag", "double")]
    with qserv.open(home) as engine:
        engine.create_database("small", chunk_order=3, subchunk_order=7, overlap_arcsec=60.0)
        engine.create_table("small.Object", TableSpec("director", columns, id_column="id", ra_column="ra",
                                                      dec_column="dec"))
        engine.ingest("small.Object", [rows])


def _commands(home):
    base = _qserv_command() + ["--home", str(home)]
    return [
        ("`qserv --help`", "help", _qserv_command() + ["--help"]),
        ("`qserv query`: filter + aggregate over the 10 000-row table (all chunks)", "query",
         base + ["query", "SELECT COUNT(*) FROM small.Object WHERE mag > 15"]),
        ("`qserv query`: 1-degree cone on the same table (loads healpy)", "query",
         base + ["query", "SELECT id FROM small.Object WHERE CONTAINS(POINT(ra, dec), CIRCLE(10, 20, 1)) = 1"]),
        ("`python -c pass` (the interpreter alone, for reference)", None, [sys.executable, "-c", "pass"]),
    ]


def bench_startup():
    scratch = Path(tempfile.mkdtemp(prefix="qserv-startup-"))
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    environment["PYTHONPYCACHEPREFIX"] = str(scratch / "pycache")
    try:
        _small_instance(scratch / "home")
        commands = _commands(scratch / "home")
        times = {name: [] for name, _, _ in commands}
        cpu = {name: [] for name, _, _ in commands}
        for round_ in range(RUNS + 1):  # round 0 warms the caches up
            for name, _, command in commands:
                before, started = _children_cpu_s(), time.perf_counter()
                subprocess.run(command, env=environment, check=True, stdout=subprocess.DEVNULL)
                if round_:
                    times[name].append(time.perf_counter() - started)
                    cpu[name].append(_children_cpu_s() - before)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    rows = []
    for name, target_key, _ in commands:
        median = float(np.median(times[name]))
        target = TARGETS.get(target_key)
        note = (f"target < {target} s: {'met' if median < target else 'missed'}" if target else "")
        rows.append((name, f"{median:.3f} s", f"{note}{'; ' if note else ''}CPU {np.median(cpu[name]):.3f} s; "
                     f"{RUNS} runs, new process each"))
    return rows


def _children_cpu_s():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime

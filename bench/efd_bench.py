"""Transformed EFD benchmark (issue 21): one synthetic night (exposures of 30 s every 40 s, topics
at 1-50 Hz, every function of tests/payloads/efd_data.config on every topic) transformed by
``qserv.payloads.efd`` on our core against a pandas script reading the same Parquet files (sorted
by time, each window sliced by binary search). Both results are compared (rel 1e-7).

    python -m bench.efd_bench --exposures 1000 --topics 50
"""

import argparse
import importlib.util
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from bench.data import log

DATA = Path(__file__).parent.parent / "tests" / "payloads" / "efd_data.py"


def _efd_data():
    spec = importlib.util.spec_from_file_location("efd_data", DATA)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _disagreements(ours, expected):
    ours = ours.to_pandas().set_index("exposure_id")
    bad = 0
    for eid, values in expected.items():
        for column, value in values.items():
            got = ours.loc[eid, column]
            if value is None:
                bad += not (got is None or np.isnan(got))
            else:
                bad += not np.isclose(got, value, rtol=1e-7, atol=1e-9)
    return bad


def bench_efd(argv=()):
    """Run the benchmark; return the report's markdown lines."""
    import qserv
    from qserv.instance import init_instance
    from qserv.payloads.efd import Efd

    args = parse_args(list(argv))
    efd_data = _efd_data()
    root = Path(tempfile.mkdtemp(prefix="efd-bench-"))
    try:
        log(f"[efd] night of {args.exposures} exposures, {args.topics} topics")
        exposures_path, paths, described = efd_data.night(root, exposures=args.exposures, topics=args.topics)
        telemetry_rows = sum(pq.read_metadata(path).num_rows for path in paths.values())
        document = efd_data.config(described)
        config = efd_data.write_config(root / "config.yaml", document)
        init_instance(root / "home", workers=args.workers)
        with qserv.open(root / "home") as engine:
            efd = Efd.create(engine, "efd")
            started = time.perf_counter()
            for topic, path in paths.items():
                efd.ingest(topic, [path])
            efd.load_exposures([exposures_path])
            ingest_s = time.perf_counter() - started
            log(f"[efd] ingest {ingest_s:.1f} s; transform")
            started = time.perf_counter()
            counts = efd.transform(config, batch=args.batch)
            ours_s = time.perf_counter() - started
            ours = engine.read_table("efd.exposure_efd")
        log(f"[efd] ours {ours_s:.1f} s ({counts}); pandas")
        started = time.perf_counter()
        expected = efd_data.pandas_transform(exposures_path, paths, document)
        pandas_s = time.perf_counter() - started
        bad = _disagreements(ours, expected)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    values = sum(len(v) for v in expected.values())
    rows = [("qserv.payloads.efd (core, DuckDB workers)", ours_s), ("pandas script over the Parquet files", pandas_s)]
    lines = [f"Night: {args.exposures} exposures, {args.topics} topics, {telemetry_rows:,} telemetry rows, "
             f"{len(document['columns'])} config entries ({values // args.exposures} values per exposure); "
             f"ingest into the core {ingest_s:.1f} s (not in the transform times); {args.workers} workers, "
             f"batches of {args.batch} windows.", "",
             "| system | transform | windows/s | telemetry rows/s |", "|---|---|---|---|"]
    lines += [f"| {name} | {seconds:.1f} s | {args.exposures / seconds:.1f} | {telemetry_rows / seconds:,.0f} |"
              for name, seconds in rows]
    lines += ["", f"Speed-up {pandas_s / ours_s:.2f}x (target 5x); {counts['completed']} windows completed, "
                  f"{counts['failed']} failed; values disagreeing with pandas: {bad} of {values}.", ""]
    return lines


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.efd_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--exposures", type=int, default=1000)
    parser.add_argument("--topics", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=1000, help="windows per statement")
    return parser.parse_args(argv)


if __name__ == "__main__":
    import sys

    print("\n".join(bench_efd(sys.argv[1:])))

"""Reads before / after DiaObjectLast and the pruned reads by ids, on the same APDB at the same
moment (issue 18).

Runs the APDB benchmark's visits (bench/apdb_bench.py, our core, embedded default) and every
``--every`` visits times, interleaved: the field's DiaObjects as ``Apdb.get_diaobjects`` reads them
(DiaObjectLast, one row per object) and as it read them before (every DiaObject version within
max_move_arcsec of the field, reduced to the newest open version per object, cut to the field);
the forced-source history of the field's objects by ids with the field as region (one pruned read)
and without (one scan of every chunk per 1000 ids, as before). Each pair must agree.

    python -m bench.apdb_latest_bench --visits 60 --every 10
"""

import argparse
import csv
import shutil
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from bench.apdb_bench import VisitGenerator, Workload, cycle, schemas
from bench.apdb_systems import QservApdb, tai
from bench.data import log
from qserv.payloads.apdb import reads
from qserv.sphere import Circle

RESULTS = Path(__file__).parent / "results" / "issue18" / "latest_read.csv"


def all_versions_read(apdb, region):
    """The read get_diaobjects made before DiaObjectLast."""
    table = apdb.tables["DiaObject"]
    cap = reads.grown_cap(region, apdb.settings.max_move_arcsec)
    rows = apdb._query(reads.select(apdb.database, table.name, table.column_names, [reads.in_region(cap)]))
    latest = reads.latest_objects(rows, table.column_names)
    inside = region.contains(latest["ra"].to_numpy(zero_copy_only=False), latest["dec"].to_numpy(zero_copy_only=False))
    return latest.filter(pa.array(inside)), rows.num_rows


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.apdb_latest_bench")
    parser.add_argument("--visits", type=int, default=60)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    workload = Workload(visits=args.visits)
    schemas_by_name = schemas()
    generator = VisitGenerator(workload, schemas_by_name["DiaSource"])
    root = Path(tempfile.mkdtemp(prefix="apdb-latest-"))
    system = QservApdb(root, "duckdb")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    try:
        with args.output.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["visits_stored", "objects_in_field", "versions_read_before", "latest_table_s",
                             "all_versions_s", "same_objects", "forced_rows", "forced_by_ids_in_region_s",
                             "forced_by_ids_every_chunk_s", "same_forced"])
            for visit in range(args.visits):
                cycle(system, generator, visit, schemas_by_name, workload.radius_arcsec)
                if (visit + 1) % args.every:
                    continue
                field = Circle(*generator.field(visit))  # the field of the visit just stored
                new, new_s = timed(system.apdb.get_diaobjects, field)
                (old, versions), old_s = timed(all_versions_read, system.apdb, field)
                same = sorted(new["diaObjectId"].to_pylist()) == sorted(old["diaObjectId"].to_pylist())
                ids, when = new["diaObjectId"].to_pylist(), tai(generator.visit_time_mjd(visit + 1))
                pruned, pruned_s = timed(system.apdb.get_diaforcedsources, field, ids, when)
                scanned, scanned_s = timed(system.apdb.get_diaforcedsources, None, ids, when)
                same_forced = pruned.sort_by("diaForcedSourceId").equals(scanned.sort_by("diaForcedSourceId"))
                writer.writerow([visit + 1, new.num_rows, versions, f"{new_s:.3f}", f"{old_s:.3f}", same,
                                 pruned.num_rows, f"{pruned_s:.3f}", f"{scanned_s:.3f}", same_forced])
                handle.flush()
                log(f"[apdb latest] {visit + 1} visits: {new.num_rows} objects, {versions} versions read before; "
                    f"{new_s:.2f} s vs {old_s:.2f} s, same {same}; forced by ids {pruned.num_rows} rows: "
                    f"{pruned_s:.2f} s pruned vs {scanned_s:.2f} s every chunk, same {same_forced}")
    finally:
        system.close()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

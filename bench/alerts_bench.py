"""Alert archive benchmark (issue 19): packet build time for a visit, archive ingest rate, lookups
by id and by object, a 1-degree cone over one night, bytes per alert against gzipped packet files.

An APDB on the embedded default gets ``--visits`` visits 30 days apart of ``--sources`` DiaSources
each over one 3.5-degree field (every object seen in every visit, every column filled: realistic
packets with up to 12 months of history and forced photometry, no cutouts); the alerts of the last
visit are built and archived (ingest rate on these unique packets). The archive is then filled to
``--alerts`` with copies of those packets under new ids, positions spread over a patch of sky and
midpoints over ``--nights`` nights (the copies' searchable columns are their own; their packet
bytes are the originals'), and lookups are timed on it.

    python -m bench.alerts_bench --alerts 1e6 --sources 10000 --visits 12
"""

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from astropy.time import Time
import numpy as np
import pyarrow as pa

from bench.data import log

RESULTS_DIR = Path(__file__).parent / "results" / "issue19"
DAYS_BETWEEN_VISITS = 30.0
FIRST_MJD_TAI = 60000.0
FIELD_RADIUS_DEG = 1.75
CENTRE = (60.0, -30.0)
ALERTS_PER_OBJECT = 4  # in the archive's copies
FASTAVRO_SAMPLE = 300  # packets also encoded by fastavro (compared byte for byte, timed)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.alerts_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=float, default=1e6, help="alerts in the archive for the lookups")
    parser.add_argument("--sources", type=int, default=10_000, help="DiaSources per visit")
    parser.add_argument("--visits", type=int, default=12, help="visits, 30 days apart (history depth)")
    parser.add_argument("--nights", type=int, default=30, help="nights the archived alerts spread over")
    parser.add_argument("--patch-deg", type=float, default=20.0, help="side of the sky patch of the copies")
    parser.add_argument("--batch", type=int, default=100_000, help="alerts per archive store while filling")
    parser.add_argument("--lookups", type=int, default=200, help="timed lookups of each kind")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "alerts.md")
    return parser.parse_args(argv)


def source_rows(apdb, table_name, rng, count, **columns):
    """Rows of ``table_name`` with ``columns`` and random values in every other numeric column."""
    from qserv.schema.types import arrow_type

    data = {}
    for column in apdb.tables[table_name].columns:
        if column.name in columns:
            values = columns[column.name]
        elif column.datatype in ("float", "double"):
            values = rng.normal(100.0, 10.0, count)
        elif column.datatype in ("int", "long", "short", "byte"):
            if column.nullable:
                continue
            values = np.zeros(count, dtype=np.int64)
        elif column.datatype == "boolean":
            values = rng.uniform(size=count) < 0.1
        else:
            continue
        data[column.name] = pa.array(values, type=arrow_type(column))
    return pa.table(data)


def populate_apdb(apdb, sources, visits, rng):
    from qserv.payloads.apdb.visit import associate_visit
    from qserv.sphere import Circle

    radius = np.degrees(np.arccos(1 - rng.uniform(size=sources) * (1 - np.cos(np.radians(FIELD_RADIUS_DEG)))))
    angle = rng.uniform(0, 2 * np.pi, sources)
    dec0 = CENTRE[1] + radius * np.sin(angle)
    ra0 = CENTRE[0] + radius * np.cos(angle) / np.cos(np.radians(dec0))
    for visit in range(1, visits + 1):
        mjd = FIRST_MJD_TAI + DAYS_BETWEEN_VISITS * (visit - 1)
        when = Time(mjd, format="mjd", scale="tai")
        noise = rng.normal(0, 0.1 / 3600, (2, sources))
        rows = source_rows(apdb, "DiaSource", rng, sources, diaSourceId=visit * 10_000_000 + np.arange(sources),
                           visit=np.full(sources, visit), detector=np.full(sources, 0), ra=ra0 + noise[0],
                           dec=dec0 + noise[1], midpointMjdTai=mjd + rng.uniform(0, 30 / 86400, sources),
                           band=np.array(list("ugrizy"))[rng.integers(0, 6, sources)].tolist(),
                           timeProcessedMjdTai=np.full(sources, mjd + 0.001))
        started = time.perf_counter()
        associate_visit(apdb, visit, 0, rows, when)
        objects = apdb.get_diaobjects(Circle(*CENTRE, FIELD_RADIUS_DEG + 0.01))
        count = objects.num_rows
        forced = source_rows(apdb, "DiaForcedSource", rng, count,
                             diaForcedSourceId=visit * 10_000_000 + np.arange(count),
                             diaObjectId=objects.column("diaObjectId"), ra=objects.column("ra"),
                             dec=objects.column("dec"), visit=np.full(count, visit), detector=np.full(count, 1),
                             midpointMjdTai=np.full(count, mjd), band=["r"] * count,
                             timeProcessedMjdTai=np.full(count, mjd + 0.001))
        apdb.store(when, None, None, forced)
        log(f"visit {visit}: {sources} sources associated and {count} forced sources stored "
            f"in {time.perf_counter() - started:.1f} s")


def copies(pool, first_id, count, rng, patch_deg, nights, fill=(0.0, 1.0), objects=1):
    """``count`` alert records copying ``pool``'s with new ids, positions and midpoints (the
    diaSource dicts are new; the rest is shared). An archive is filled as alerts are published,
    in time order: these copies' nights are the ``fill`` fraction (start, end) of ``nights``. The
    diaObjectId is the id modulo ``objects`` (an object's alerts spread over the whole fill)."""
    picks = rng.integers(0, len(pool), count)
    ra = CENTRE[0] + rng.uniform(-patch_deg / 2, patch_deg / 2, count)
    dec = CENTRE[1] + rng.uniform(-patch_deg / 2, patch_deg / 2, count)
    night = np.floor(nights * np.sort(rng.uniform(*fill, count)))
    midpoint = FIRST_MJD_TAI + 400 + night + np.sort(rng.uniform(0, 0.4, count))
    result = []
    for k in range(count):
        record = pool[picks[k]]
        alert_id = first_id + k
        source = dict(record["diaSource"], diaSourceId=alert_id, diaObjectId=alert_id % objects, ra=float(ra[k]),
                      dec=float(dec[k]), midpointMjdTai=float(midpoint[k]))
        result.append({**record, "diaSourceId": alert_id, "diaSource": source})
    return result, picks


def worker_bytes(home):
    return sum(f.stat().st_size for f in (home / "workers").rglob("*") if f.is_file())


def p50_ms(function, arguments):
    """(p50, p95, p50 of this process's CPU time) of ``function`` over ``arguments``, ms."""
    times, cpu = [], []
    for argument in arguments:
        started, cpu_started = time.perf_counter(), time.process_time()
        function(argument)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    return statistics.median(times), float(np.percentile(times, 95)), statistics.median(cpu)


def main(argv=None):
    args = parse_args(argv)
    import qserv
    from qserv.instance import init_instance
    from qserv.payloads.alerts import AlertArchive
    from qserv.payloads.alerts.archive import gzip_packet
    from qserv.payloads.alerts.build import visit_tables
    from qserv.payloads.alerts.columnar import alert_packets
    from qserv.payloads.alerts.packets import alert_records, source_columns
    from qserv.payloads.alerts.search import Search
    from qserv.payloads.alerts.wire import encode, latest_schema
    from qserv.payloads.apdb import Apdb

    rng = np.random.default_rng(19)
    load = os.getloadavg()[0]
    lines = ["# Alert archive benchmark (issue 19)", "",
             f"`python -m bench.alerts_bench --alerts {args.alerts:g} --sources {args.sources} --visits {args.visits}`",
             ""]
    with tempfile.TemporaryDirectory(prefix="alerts-bench-") as directory:
        home = Path(directory) / "home"
        init_instance(home, workers=2)
        with qserv.open(home) as engine:
            apdb = Apdb.create(engine, "apdb")
            populate_apdb(apdb, args.sources, args.visits, rng)
            schema = latest_schema()
            started, cpu = time.perf_counter(), time.process_time()
            tables = visit_tables(apdb, args.visits)
            read_s, read_cpu_s = time.perf_counter() - started, time.process_time() - cpu
            started, cpu = time.perf_counter(), time.process_time()
            records = alert_records(schema.definition, *tables)
            build_s, build_cpu_s = time.perf_counter() - started, time.process_time() - cpu
            started, cpu = time.perf_counter(), time.process_time()
            packets = alert_packets(schema, *tables)
            encode_s, encode_cpu_s = time.perf_counter() - started, time.process_time() - cpu
            cpu = time.process_time()
            sample = records[:FASTAVRO_SAMPLE]
            assert [encode(record, schema) for record in sample] == packets[:len(sample)]
            fastavro_ms = (time.process_time() - cpu) / len(sample) * 1000
            history = statistics.mean(len(r["prvDiaSources"]) for r in records)
            forced = statistics.mean(len(r["prvDiaForcedSources"]) for r in records)
            apdb_bytes = worker_bytes(home)
            archive = AlertArchive.create(engine, "alerts")
            started, cpu = time.perf_counter(), time.process_time()
            archive.store_columns(source_columns(tables[0]), packets, {schema.schema_id: schema})
            store_s, store_cpu_s = time.perf_counter() - started, time.process_time() - cpu
            lines += [f"- Visit of {len(records)} DiaSources (mean history {history:.1f} DiaSources, {forced:.1f} "
                      f"forced sources per packet): APDB read in {read_s:.2f} s ({read_cpu_s:.2f} s CPU); packets "
                      f"encoded column by column "
                      f"in {encode_s:.2f} s ({encode_cpu_s:.2f} s CPU, {encode_cpu_s / len(records) * 1e6:.0f} us per "
                      f"packet; fastavro on {len(sample)} of them, same bytes: {fastavro_ms:.2f} ms CPU per packet); "
                      f"archived (gzip + one ingest transaction) in {store_s:.2f} s = {len(records) / store_s:,.0f} "
                      f"alerts/s ({store_cpu_s:.2f} s CPU); whole visit {read_s + encode_s + store_s:.2f} s "
                      f"({read_cpu_s + encode_cpu_s + store_cpu_s:.2f} s CPU). Records as dicts (for the "
                      f"fastavro sample and the archive's copies, not on the publish path): {build_s:.2f} s "
                      f"({build_cpu_s:.2f} s CPU).",
                      f"- Packet size: mean {statistics.mean(map(len, packets)):,.0f} bytes in wire format, "
                      f"{statistics.mean(len(gzip_packet(p)) for p in packets):,.0f} bytes gzipped."]
            target = int(args.alerts)
            stored, next_id, rates, cpu_rates = len(records), 1_000_000_000, [], []
            object_count = max(1, (target - stored) // ALERTS_PER_OBJECT)
            while stored < target:
                count = min(args.batch, target - stored)
                fill = ((stored - len(records)) / (target - len(records)),
                        (stored + count - len(records)) / (target - len(records)))
                batch, picks = copies(records, next_id, count, rng, args.patch_deg, args.nights, fill, object_count)
                started, cpu = time.perf_counter(), time.process_time()
                archive.store_decoded(batch, [packets[i] for i in picks], {schema.schema_id: schema})
                rates.append(count / (time.perf_counter() - started))
                cpu_rates.append(count / (time.process_time() - cpu))
                stored += count
                next_id += count
                log(f"archive: {stored:,} alerts ({rates[-1]:,.0f} alerts/s)")
            if rates:
                lines.append(f"- Filling the archive to {stored:,} alerts in stores of {args.batch:,}: median "
                             f"{statistics.median(rates):,.0f} alerts/s (gzip + ingest, packets pre-encoded); per second of "
                             f"this process's CPU time (all its threads): {statistics.median(cpu_rates):,.0f} alerts.")
            ids = rng.integers(1_000_000_000, next_id, args.lookups) if rates else [r["diaSourceId"] for r in records]
            by_id = p50_ms(archive.get, [int(i) for i in ids])
            objects = [int(i) % object_count for i in ids] if rates else [r["diaSource"]["diaObjectId"] for r in records]
            by_object = p50_ms(archive.object_alerts, objects[:args.lookups])
            nights = rng.integers(0, args.nights, args.lookups)
            cones = [Search(cone=(CENTRE[0] + rng.uniform(-5, 5), CENTRE[1] + rng.uniform(-5, 5), 1.0),
                            since_mjd_tai=FIRST_MJD_TAI + 400 + n, until_mjd_tai=FIRST_MJD_TAI + 401 + n)
                     for n in nights]
            found = []
            cone = p50_ms(lambda s: found.append(len(archive.search(s))), cones)
            size = worker_bytes(home) - apdb_bytes
            gz = statistics.mean(len(gzip_packet(p)) for p in packets)
            lines += [f"- Lookups on {stored:,} alerts (p50 / p95 / p50 of CPU time over {args.lookups}): by id "
                      f"{by_id[0]:.1f} / {by_id[1]:.1f} / {by_id[2]:.1f} ms; all alerts of one object "
                      f"{by_object[0]:.1f} / {by_object[1]:.1f} / {by_object[2]:.1f} ms; 1-degree cone over one night "
                      f"({statistics.mean(found):.0f} alerts each, packets returned) {cone[0]:.1f} / {cone[1]:.1f} / "
                      f"{cone[2]:.1f} ms.",
                      f"- Storage: {size / stored:,.0f} bytes per alert in the workers' files (Alert table, searchable "
                      f"columns included) against "
                      f"{gz:,.0f} bytes per gzipped packet file (Rubin's design; file-system blocks not counted).",
                      f"- Machine: {os.cpu_count()} CPUs, load average {load:.1f} at the start, "
                      f"{os.getloadavg()[0]:.1f} at the end (wall times include waiting for the CPU).", ""]
    text = "\n".join(lines)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(text)
    return lines


if __name__ == "__main__":
    main()

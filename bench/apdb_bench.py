"""APDB benchmark (issue 18): an ap_proto-like visit sequence on our core and on lsst-dax-apdb.

Visits point at random inside a patch of sky, so fields overlap and history accumulates. Each
visit detects every "true" variable object of its field (0.1" position noise) and as many noise
sources (unique positions, each founding a DiaObject), one band per visit. Per visit every system
(same visits, interleaved) runs the Alert Production cycle: read the DiaObjects of the field, read
the DiaSource history (12 months, by region) and the DiaForcedSource history (12 months, of the
field's objects), associate (``qserv.payloads.apdb.association``, the same code for all), and store
the new DiaObject versions, the DiaSources and forced photometry of the field's objects seen in the
last 30 days in one ``store``. Each visit's matches are checked against ``brute_force_matches``.
Systems: our core (embedded default; PostgreSQL workers) and ``ApdbSql`` on SQLite and PostgreSQL.

    python -m bench.apdb_bench --visits 50 --sources 2000 --field-deg 1.0 --minutes 20
"""

import argparse
import csv
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
from astropy.coordinates import angular_separation

from bench.data import jitter, log
from qserv.payloads.apdb.association import BANDS, TIE_RESOLUTION_ARCSEC, associate
from qserv.schema.felis import load_felis_tables, sdm_schema_path
from qserv.schema.types import arrow_schema
from qserv.sphere.angles import ARCSEC_PER_DEG, angular_separation_deg, vectors_to_radec

RESULTS_DIR = Path(__file__).parent / "results" / "issue18"
TABLES = ("DiaObject", "DiaSource", "DiaForcedSource")
FORCED_DAYS = 30.0
VISIT_SECONDS = 40.0
VISITS_PER_NIGHT = 800
STEPS = ("read objects", "read sources", "read forced", "associate", "store")
SOURCE_ID_STRIDE = 1_000_000  # diaSourceId = visit * stride + row (and diaForcedSourceId likewise)


@dataclass(frozen=True)
class Workload:
    visits: int = 50
    sources: int = 10_000          # DiaSources per visit, half real and half noise
    field_deg: float = 3.5         # field diameter
    patch_deg: float = 5.0         # diameter of the patch the pointings fall in
    centre: tuple = (60.0, -30.0)
    radius_arcsec: float = 1.0
    seed: int = 18

    @property
    def field_radius_deg(self):
        return self.field_deg / 2


def schemas():
    tables = load_felis_tables(sdm_schema_path("apdb"))
    return {name: arrow_schema(tables[name].columns) for name in TABLES}


def cap_points(rng, count, ra_deg, dec_deg, radius_deg):
    """``count`` points uniform in the cap of ``radius_deg`` about (ra_deg, dec_deg)."""
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    centre = np.array([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])
    east = np.array([-np.sin(ra), np.cos(ra), 0.0])
    north = np.cross(centre, east)
    z = rng.uniform(np.cos(np.radians(radius_deg)), 1.0, count)
    phi = rng.uniform(0.0, 2 * np.pi, count)
    s = np.sqrt(1.0 - z * z)
    vectors = z[:, None] * centre + (s * np.cos(phi))[:, None] * east + (s * np.sin(phi))[:, None] * north
    return vectors_to_radec(vectors)


def full_rows(schema, count, values):
    """A table of ``schema`` with ``values`` (name -> array); other columns null, or 0 when required."""
    return pa.table({f.name: pa.array(values[f.name], type=f.type) if f.name in values
                     else pa.nulls(count, f.type) if f.nullable else pa.array(np.zeros(count), type=f.type)
                     for f in schema}, schema=schema)


class VisitGenerator:
    """The visits of a workload: pointings, times, and their DiaSources (deterministic per seed)."""

    def __init__(self, workload, schema):
        self.workload, self.schema = workload, schema
        rng = np.random.default_rng(workload.seed)
        self.pointings = cap_points(rng, workload.visits, *workload.centre, workload.patch_deg / 2)
        sky_radius = workload.patch_deg / 2 + workload.field_radius_deg
        density = (workload.sources // 2) / _cap_area(workload.field_radius_deg)
        self.true_ra, self.true_dec = cap_points(rng, int(density * _cap_area(sky_radius)),
                                                 *workload.centre, sky_radius)

    def visit_time_mjd(self, visit):
        return 60000.0 + visit // VISITS_PER_NIGHT + (visit % VISITS_PER_NIGHT) * VISIT_SECONDS / 86400

    def field(self, visit):
        return float(self.pointings[0][visit]), float(self.pointings[1][visit]), self.workload.field_radius_deg

    def sources(self, visit):
        rng = np.random.default_rng((self.workload.seed, visit))
        ra0, dec0, radius = self.field(visit)
        inside = np.flatnonzero(angular_separation_deg(self.true_ra, self.true_dec, ra0, dec0) <= radius)
        real_ra, real_dec = jitter(rng, self.true_ra[inside], self.true_dec[inside], 0.1)
        noise_ra, noise_dec = cap_points(rng, self.workload.sources - len(inside), ra0, dec0, radius)
        count = self.workload.sources
        time_mjd = self.visit_time_mjd(visit)
        return full_rows(self.schema, count, {
            "diaSourceId": visit * SOURCE_ID_STRIDE + np.arange(count), "visit": np.full(count, visit),
            "detector": np.zeros(count), "ra": np.concatenate([real_ra, noise_ra])[:count],
            "dec": np.concatenate([real_dec, noise_dec])[:count], "midpointMjdTai": np.full(count, time_mjd),
            "band": np.full(count, BANDS[visit % len(BANDS)]), "psfFlux": rng.normal(1000, 100, count),
            "psfFluxErr": rng.uniform(5, 20, count), "scienceFlux": rng.normal(2000, 100, count),
            "scienceFluxErr": rng.uniform(5, 20, count), "timeProcessedMjdTai": np.full(count, time_mjd)})


def forced_sources(schema, objects, visit, time_mjd, field):
    """Forced photometry at this visit of the field's objects with a DiaSource in the last 30 days."""
    last = objects.column("lastDiaSourceMjdTai").to_numpy(zero_copy_only=False).astype(np.float64)
    ra, dec = objects.column("ra").to_numpy(), objects.column("dec").to_numpy()
    near = angular_separation_deg(ra, dec, field[0], field[1]) <= field[2]
    keep = np.flatnonzero(near & (last >= time_mjd - FORCED_DAYS))
    count = len(keep)
    rng = np.random.default_rng(visit)
    return full_rows(schema, count, {
        "diaForcedSourceId": visit * SOURCE_ID_STRIDE + np.arange(count),
        "diaObjectId": objects.column("diaObjectId").to_numpy()[keep], "ra": ra[keep], "dec": dec[keep],
        "visit": np.full(count, visit), "detector": np.zeros(count), "psfFlux": rng.normal(1000, 100, count),
        "psfFluxErr": rng.uniform(5, 20, count), "midpointMjdTai": np.full(count, time_mjd),
        "band": np.full(count, BANDS[visit % len(BANDS)]), "timeProcessedMjdTai": np.full(count, time_mjd)})


def _cap_area(radius_deg):
    return 2 * np.pi * (1 - np.cos(np.radians(radius_deg))) * (180 / np.pi) ** 2


def brute_force_matches(source_ids, source_ra, source_dec, object_ids, object_ra, object_dec, radius_arcsec):
    """{diaSourceId: diaObjectId} by the association rule, one pair at a time: every source against
    every object of its declination band (|ddec| <= radius, a necessary condition), separations by
    astropy, then the greedy pass in (separation rounded to 1e-6 arcsec, source id, object id) order."""
    radius_deg = radius_arcsec / ARCSEC_PER_DEG
    by_dec = np.argsort(object_dec)
    sorted_dec = object_dec[by_dec]
    pairs = []
    for i in range(len(source_ids)):
        band = by_dec[np.searchsorted(sorted_dec, source_dec[i] - radius_deg):
                      np.searchsorted(sorted_dec, source_dec[i] + radius_deg, side="right")]
        separation = np.degrees(angular_separation(np.radians(source_ra[i]), np.radians(source_dec[i]),
                                                   np.radians(object_ra[band]), np.radians(object_dec[band])))
        separation = separation * ARCSEC_PER_DEG
        for j, arcsec in zip(band[separation <= radius_arcsec], separation[separation <= radius_arcsec]):
            pairs.append((round(arcsec / TIE_RESOLUTION_ARCSEC), int(source_ids[i]), int(object_ids[j])))
    taken_objects, result = set(), {}
    for _, source, obj in sorted(pairs):
        if source not in result and obj not in taken_objects:
            result[source] = obj
            taken_objects.add(obj)
    return result


def cycle(system, generator, visit, schemas_by_name, radius_arcsec):
    """One visit on one system: (seconds by step, {source id: object id} of the matches)."""
    times, start = {}, time.perf_counter()
    ra0, dec0, radius = generator.field(visit)
    time_mjd = generator.visit_time_mjd(visit)
    sources = generator.sources(visit)
    objects = system.objects(ra0, dec0, radius + radius_arcsec / ARCSEC_PER_DEG, schemas_by_name["DiaObject"])
    times["read objects"] = time.perf_counter() - start
    step = time.perf_counter()
    history = system.sources(ra0, dec0, radius + 2 * radius_arcsec / ARCSEC_PER_DEG, time_mjd,
                             schemas_by_name["DiaSource"])
    times["read sources"] = time.perf_counter() - step
    step = time.perf_counter()
    system.forced_sources(ra0, dec0, radius + radius_arcsec / ARCSEC_PER_DEG,
                          objects.column("diaObjectId").to_numpy(), time_mjd)
    times["read forced"] = time.perf_counter() - step
    step = time.perf_counter()
    result = associate(sources, objects, history, time_mjd, radius_arcsec)
    forced = forced_sources(schemas_by_name["DiaForcedSource"], objects, visit, time_mjd, (ra0, dec0, radius))
    times["associate"] = time.perf_counter() - step
    step = time.perf_counter()
    system.store(time_mjd, result.objects, result.sources, forced)
    times["store"] = time.perf_counter() - step
    times["cycle"] = time.perf_counter() - start
    ids = sources.column("diaSourceId").to_numpy()
    matched = dict(zip(ids[result.matches.source_index].tolist(),
                       objects.column("diaObjectId").to_numpy()[result.matches.object_index].tolist()))
    return times, matched, objects


def run(workload, systems, output_dir, minutes):
    """Run the visits on every system, interleaved; write per-visit CSV rows as they come."""
    schemas_by_name = schemas()
    generator = VisitGenerator(workload, schemas_by_name["DiaSource"])
    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / "cycles.csv"
    started = time.perf_counter()
    done = 0
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["system", "visit", "objects_read", *STEPS, "cycle", "matches", "brute_force_agrees"])
        for visit in range(workload.visits):
            if (time.perf_counter() - started) / 60 > minutes:
                log(f"[apdb] time budget of {minutes} min reached after {visit} visits")
                break
            for system in systems:
                times, matched, objects = cycle(system, generator, visit, schemas_by_name, workload.radius_arcsec)
                sources = generator.sources(visit)
                expected = brute_force_matches(
                    *(sources.column(c).to_numpy() for c in ("diaSourceId", "ra", "dec")),
                    *(objects.column(c).to_numpy() for c in ("diaObjectId", "ra", "dec")), workload.radius_arcsec)
                agrees = expected == matched
                writer.writerow([system.name, visit, objects.num_rows] + [f"{times[k]:.4f}" for k in (
                    *STEPS, "cycle")] + [len(matched), agrees])
            handle.flush()
            done = visit + 1
            if visit % 10 == 0:
                log(f"[apdb] visit {visit}: " + ", ".join(f"{s.name} {objects.num_rows} objects" for s in systems[:1]))
    return path, done


def summary(path, visits_done):
    """Markdown lines: per system the median cycle (and steps) over the first and last tenth of the
    visits, and the ratio to ApdbSql (PostgreSQL) at the end."""
    rows = list(csv.DictReader(path.open()))
    names = list(dict.fromkeys(row["system"] for row in rows))
    tenth = max(1, visits_done // 10)

    def median(name, column, first):
        visits = range(tenth) if first else range(visits_done - tenth, visits_done)
        values = [float(r[column]) for r in rows if r["system"] == name and int(r["visit"]) in visits]
        return float(np.median(values)) if values else float("nan")

    peer = "ApdbSql (PostgreSQL)"
    lines = [f"| system | cycle, first {tenth} visits | cycle, last {tenth} | " + " | ".join(STEPS)
             + f" | objects read (last) | x faster than {peer} (last) | brute force agrees |",
             "|---|---|---|" + "---|" * len(STEPS) + "---|---|---|"]
    for name in names:
        last = median(name, "cycle", False)
        ratio = median(peer, "cycle", False) / last if peer in names else float("nan")
        lines.append(f"| {name} | {median(name, 'cycle', True):.2f} s | {last:.2f} s | "
                     + " | ".join(f"{median(name, step, False):.2f} s" for step in STEPS)
                     + f" | {median(name, 'objects_read', False):.0f} | {ratio:.1f} | "
                     f"{sum(r['brute_force_agrees'] == 'True' for r in rows if r['system'] == name)}/{visits_done} |")
    return lines


def plot(path, output):
    """Cycle time against visit number, one line per system (median over 5 visits)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(path.open()))
    figure, axes = plt.subplots(figsize=(10, 4.5))
    for name in dict.fromkeys(row["system"] for row in rows):
        mine = [r for r in rows if r["system"] == name]
        visits = np.array([int(r["visit"]) for r in mine])
        cycle_seconds = np.array([float(r["cycle"]) for r in mine])
        smooth = [np.median(cycle_seconds[max(0, k - 4):k + 1]) for k in range(len(mine))]
        axes.plot(visits + 1, smooth, label=name)
    axes.set_xlabel("visits stored")
    axes.set_ylabel("cycle time per visit, s (median of 5)")
    axes.set_yscale("log")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    axes.set_title("APDB per-visit cycle: read objects + history, associate, store")
    figure.tight_layout()
    figure.savefig(output, dpi=110)
    plt.close(figure)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.apdb_bench", description=__doc__.split("\n\n")[0])
    defaults = Workload()
    parser.add_argument("--visits", type=int, default=defaults.visits)
    parser.add_argument("--sources", type=int, default=defaults.sources, help="DiaSources per visit")
    parser.add_argument("--field-deg", type=float, default=defaults.field_deg, help="field diameter")
    parser.add_argument("--patch-deg", type=float, default=defaults.patch_deg, help="pointing patch diameter")
    parser.add_argument("--minutes", type=float, default=60.0, help="stop starting visits after this long")
    parser.add_argument("--systems", default="qserv,qserv-pg,apdbsql-sqlite,apdbsql-pg")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR)
    return parser.parse_args(argv)


def bench_apdb(argv=()):
    """Run the benchmark; return the report's markdown lines (also written to output/report.md)."""
    from bench import apdb_systems  # imports lsst.dax.apdb when its systems are opened

    args = parse_args(list(argv))
    workload = Workload(visits=args.visits, sources=args.sources, field_deg=args.field_deg,
                        patch_deg=args.patch_deg)
    root = Path(tempfile.mkdtemp(prefix="apdb-bench-"))
    systems, databases = apdb_systems.open_systems(args.systems.split(","), root)
    try:
        path, done = run(workload, systems, args.output, args.minutes)
    finally:
        for system in systems:
            system.close()
        databases.drop_all()
        shutil.rmtree(root, ignore_errors=True)
    return write_report(path, done, workload, args.output)


def write_report(path, done, workload, output):
    """The plot and report.md beside the per-visit CSV ``path``; returns the report's lines."""
    plot(path, output / "apdb_cycle_time.png")
    lines = [f"Workload: {done} visits (of {workload.visits} asked), {workload.sources} DiaSources per visit "
             f"(half real, half noise), {workload.field_deg} deg field, pointings in a {workload.patch_deg} deg "
             f"patch, association radius {workload.radius_arcsec}\".", ""]
    lines += summary(path, done) + ["", f"Plot: `{output.name}/apdb_cycle_time.png`", ""]
    (output / "report.md").write_text("\n".join(lines) + "\n")
    return lines


if __name__ == "__main__":
    import sys

    print("\n".join(bench_apdb(sys.argv[1:])))

"""Data Backbone registry benchmark (issue 22): bulk registration of datasets (each with an artifact,
one replica and a visit-detector footprint, so also a region row and an ObsCore row) in datasets/s;
find by data id through a 3-deep CHAINED collection (p50); sky-region searches over the registered
footprints (p50), both through the registry (``sky_search``) and as ADQL on ivoa.ObsCore; then
lsst-daf-butler's own registry on SQLite and PostgreSQL (``bench.backbone_butler``) doing the same
registrations (registry only: no artifact, replica, footprint or ObsCore row) and the same finds,
side by side with ratios ours/theirs.

    python -m bench.backbone_bench [--datasets 1e6] [--batch 1e5] [--lookups 50] [--searches 50]
                                   [--butler sqlite,postgres|none]"""

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

DETECTORS = 189


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.backbone_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=float, default=1e6, help="datasets registered (default 1e6)")
    parser.add_argument("--batch", type=float, default=1e5, help="datasets per transaction (default 1e5)")
    parser.add_argument("--lookups", type=int, default=50, help="finds through the chain (default 50)")
    parser.add_argument("--searches", type=int, default=50, help="sky searches (default 50)")
    parser.add_argument("--radius", type=float, default=0.2, help="sky search radius, degrees (default 0.2)")
    parser.add_argument("--butler", default="sqlite,postgres",
                        help="lsst-daf-butler registries compared: sqlite, postgres, both or none")
    args = parser.parse_args(argv)
    args.datasets, args.batch = int(args.datasets), int(args.batch)
    return args


def visit_detector_rows(count, rng):
    """Footprints of ``count`` calexps: visits of 189 detectors (0.22 deg apart) over a 20x20 deg field."""
    visits = -(-count // DETECTORS)
    centre_ra, centre_dec = rng.uniform(150, 170, visits), rng.uniform(-10, 10, visits)
    index = np.arange(count)
    visit, detector = index // DETECTORS, index % DETECTORS
    ra = centre_ra[visit] + (detector % 14 - 7) * 0.22
    dec = centre_dec[visit] + (detector // 14 - 7) * 0.22
    return [{"dataset_type": "calexp", "instrument": "LSSTCam", "visit": int(v), "detector": int(d),
             "uri": f"s3://rubin/calexp/{v}/{d}.fits", "size": 80_000_000, "checksum": f"{v:08x}{d:04x}",
             "s_ra": float(r), "s_dec": float(c), "s_fov": 0.31, "t_min": 60000.0 + v * 0.0005,
             "t_max": 60000.0 + v * 0.0005 + 30 / 86400, "band": "r"}
            for v, d, r, c in zip(visit, detector, ra, dec)]


def p50_ms(times):
    return statistics.median(times) * 1000


def main(argv=None):
    args = parse_args(argv)
    import qserv
    from qserv.instance import init_instance
    from qserv.payloads.backbone import Backbone, find, sky_search

    rng = np.random.default_rng(22)
    lines = ["# Data Backbone registry benchmark (issue 22)", "",
             f"`python -m bench.backbone_bench --datasets {args.datasets} --batch {args.batch}`, "
             f"2 DuckDB workers, load {os.getloadavg()[0]:.1f} at start", ""]
    with tempfile.TemporaryDirectory(prefix="backbone-bench-") as directory:
        home = Path(directory) / "home"
        init_instance(home, workers=2)
        with qserv.open(home) as engine:
            backbone = Backbone.create(engine, "bb")
            backbone.add_dataset_type("calexp", ["instrument", "visit", "detector"], "ExposureF")
            rows = visit_detector_rows(args.datasets, rng)
            started, cpu = time.perf_counter(), time.process_time()
            result = backbone.register("run/a", rows, batch_rows=args.batch)
            register_s, register_cpu = time.perf_counter() - started, time.process_time() - cpu
            assert result["registered"] == args.datasets
            started = time.perf_counter()
            again = backbone.register("run/a", rows[:args.batch], batch_rows=args.batch)
            rerun_s = time.perf_counter() - started
            assert again["registered"] == 0
            lines += [f"- register {args.datasets:,} datasets (artifact, replica, footprint, ObsCore row each): "
                      f"{register_s:.1f} s, **{args.datasets / register_s:,.0f} datasets/s** "
                      f"({register_cpu:.1f} s CPU in this process)",
                      f"- re-registering {args.batch:,} of them (idempotent, nothing written): {rerun_s:.2f} s"]
            # a 3-deep chain: c3 -> c2 -> c1 -> [run/b (a few datasets), run/a]
            backbone.register("run/b", rows[:DETECTORS])
            backbone.add_collection("c1", "chained", ["run/b", "run/a"])
            backbone.add_collection("c2", "chained", ["c1"])
            backbone.add_collection("c3", "chained", ["c2"])
            times, visits, lookups, runs = [], -(-args.datasets // DETECTORS), [], []
            for _ in range(args.lookups):
                visit, detector = int(rng.integers(visits)), int(rng.integers(DETECTORS))
                lookups.append((visit, detector))
                started = time.perf_counter()
                found = find(backbone, "calexp", ["c3"],
                             f"instrument = 'LSSTCam' AND visit = {visit} AND detector = {detector}")
                times.append(time.perf_counter() - started)
                expected = "run/b" if visit == 0 else "run/a"
                assert len(found) == (1 if visit * DETECTORS + detector < args.datasets else 0)
                assert not found or found[0]["run"] == expected
                runs.append(found[0]["run"] if found else None)
            lines.append(f"- find by data id through a 3-deep chain: p50 **{p50_ms(times):.0f} ms** "
                         f"({args.lookups} lookups)")
            sky, adql = [], []
            for _ in range(args.searches):
                ra, dec = rng.uniform(152, 168), rng.uniform(-8, 8)
                started = time.perf_counter()
                sky_search(backbone, ra, dec, args.radius)
                sky.append(time.perf_counter() - started)
                started = time.perf_counter()
                engine.query(f"SELECT obs_id, access_url FROM ivoa.ObsCore WHERE "
                             f"CONTAINS(POINT(s_ra, s_dec), CIRCLE({ra}, {dec}, {args.radius})) = 1")
                adql.append(time.perf_counter() - started)
            lines += [f"- sky search (footprints overlapping a {args.radius} deg circle) over {args.datasets:,} "
                      f"visit-detector regions: p50 **{p50_ms(sky):.0f} ms**; ADQL CONTAINS on ivoa.ObsCore: "
                      f"p50 {p50_ms(adql):.0f} ms ({args.searches} searches)", ""]
            ours = {"datasets_per_s": args.datasets / register_s, "find_p50_ms": p50_ms(times)}
    return lines + butler_lines(args, rows, lookups, runs, ours)


def butler_lines(args, rows, lookups, runs, ours):
    """lsst-daf-butler's registry doing the same registrations and finds, with ratios ours/theirs."""
    from bench import backbone_butler

    kinds = [k for k in args.butler.split(",") if k in ("sqlite", "postgres")]
    if not kinds:
        return []
    data_ids = [(r["visit"], r["detector"]) for r in rows]
    lines = ["| lsst-daf-butler registry | registered datasets/s (ours/theirs) | find p50 ms (ours/theirs) |",
             "|---|---|---|"]
    for kind in kinds:
        run = backbone_butler.run_sqlite if kind == "sqlite" else backbone_butler.run_postgres
        theirs = run(data_ids, args.batch, lookups, DETECTORS, DETECTORS)
        assert theirs["found"] == runs, "the Butler found other datasets than ours"
        lines.append(f"| {kind} | {theirs['datasets_per_s']:,.0f} (**{ours['datasets_per_s'] / theirs['datasets_per_s']:.2f}x**) "
                     f"| {theirs['find_p50_ms']:.1f} (**{ours['find_p50_ms'] / theirs['find_p50_ms']:.2f}x**) |")
    lines += ["", f"ours: {ours['datasets_per_s']:,.0f} datasets/s, find p50 {ours['find_p50_ms']:.1f} ms; the Butler "
              "registers data ids only (no artifact, replica, footprint, ObsCore row), expand=False, ids UUID5 "
              "(DATAID_TYPE_RUN); its finds agree with ours on every lookup", ""]
    return lines


if __name__ == "__main__":
    print("\n".join(main()))

"""The pure helpers of the benchmark report (no timing is asserted) and the DuckDB zones
crossmatch of the peer comparison, checked against all pairs."""

import duckdb
import numpy as np
import pyarrow as pa

from bench.report import (Measurement, Target, format_ratio, format_seconds, format_size, series, table_header,
                          table_rows)
from bench.systems import grouped_answer
from bench.systems import duckdb_zones_sql


def test_format_size_seconds_and_ratio():
    assert [format_size(n) for n in (100_000, 3_000_000, 10_000_000, 1234, 100)] == ["1e5", "3e6", "1e7", "1234",
                                                                                  "100"]
    assert [format_seconds(s) for s in (0.0004, 0.0123, 1.5, float("nan"))] == ["400 us", "12.3 ms", "1.5 s", "—"]
    assert format_ratio(2.0, 1.0) == "2.00"
    assert format_ratio(1.0, 0.0) == "—"


def test_table_rows_ratios_and_targets():
    measurements = [
        Measurement("cone", 1000, "qserv", 0.010, 50), Measurement("cone", 1000, "duck", 0.040, 50),
        Measurement("cone", 1000, "pg", 0.005, 50), Measurement("cone", 10_000, "qserv", 0.020, 50),
        Measurement("lookup", 1000, "qserv", 0.003, 50), Measurement("lookup", 1000, "pg", 0.001, 50),
        Measurement("lookup", 1000, "duck", 0.001, 1),
        Measurement("ingest", 1000, "qserv", 2.0, rows=1_000_000),
    ]
    targets = {"cone": [Target("3x DuckDB", "duck", max_ratio=1 / 3), Target("<= pg", "pg", max_ratio=1.0)],
               "lookup": [Target("2 ms", max_seconds=0.002)]}
    rows = table_rows(measurements, targets)
    assert rows[0] == ("cone", "1e3", "duck", "40 ms", "10 ms", "0.25", "3x DuckDB: met")
    assert rows[1] == ("cone", "1e3", "pg", "5 ms", "10 ms", "2.00", "<= pg: missed")
    assert rows[2] == ("cone", "1e4", "—", "—", "20 ms", "—", "")  # no peer at that size
    # an absolute target is judged once per workload and size
    assert [row[6] for row in rows[3:5]] == ["2 ms: missed", ""]
    assert rows[4][3] == "1 ms (1 run)"  # fewer runs than asked are marked
    assert rows[5][4] == "2 s (0.50 M rows/s)"


def test_table_rows_put_several_qserv_systems_side_by_side():
    measurements = [Measurement("scan", 10, "q4", 0.011, 3), Measurement("scan", 10, "q7", 0.050, 3),
                    Measurement("scan", 10, "duck", 0.010, 3), Measurement("scan", 10, "pg", 0.100, 3),
                    Measurement("conc", 10, "q4", 0.05, 200, errors=3), Measurement("conc", 10, "q7", 0.09, 200),
                    Measurement("conc", 10, "duck", 0.2, 200)]
    targets = {"scan": [Target("1.15x", "duck", max_ratio=1.15)], "conc": [Target("100 ms", max_seconds=0.1)]}
    rows = table_rows(measurements, targets, qserv=("q4", "q7"))
    assert rows[0] == ("scan", "10", "duck", "10 ms", "11 ms", "1.10", "1.15x: met", "50 ms", "5.00", "1.15x: missed")
    assert rows[1][2:] == ("pg", "100 ms", "11 ms", "0.11", "", "50 ms", "0.50", "")
    # errors are shown and miss the target even when the time meets it
    assert rows[2][4:] == ("50 ms (3 errors)", "0.25", "100 ms: missed", "90 ms", "0.45", "100 ms: met")
    assert table_header(("q4", "q7"))[4:] == ["q4 median", "ratio (q4 / peer)", "target (q4)",
                                              "q7 median", "ratio (q7 / peer)", "target (q7)"]


def test_table_rows_say_which_system_did_not_run_at_a_size():
    measurements = [Measurement("cone", 10, "qserv", 1.0, 50), Measurement("cone", 10, "lsdb", 2.0, 50),
                    Measurement("cone", 100, "qserv", 1.0, 50), Measurement("cone", 100, "duck", 1.0, 50)]
    rows = table_rows(measurements, not_run={(100, "lsdb"): "not run (too slow)"})
    assert [row[2:4] for row in rows] == [("lsdb", "2 s"), ("duck", "1 s"), ("lsdb", "not run (too slow)")]


def test_series_sorts_sizes_per_system():
    measurements = [Measurement("cone", 100, "a", 2.0), Measurement("cone", 10, "a", 1.0),
                    Measurement("scan", 10, "a", 5.0), Measurement("cone", 10, "b", 3.0)]
    assert series(measurements, "cone") == {"a": ([10, 100], [1.0, 2.0]), "b": ([10], [3.0])}


def test_grouped_answer_orders_groups_and_splits_counts_from_averages():
    assert grouped_answer([(7, 2, 1.5), (3, 5, 2.5)]) == (2, 5, 2, 2.5, 1.5)
    assert grouped_answer([]) == (0,)


def _separation_deg(ra1, dec1, ra2, dec2):
    ra1, dec1, ra2, dec2 = map(np.radians, (ra1, dec1, ra2, dec2))
    h = np.sin((dec2 - dec1) / 2) ** 2 + np.cos(dec1) * np.cos(dec2) * np.sin((ra2 - ra1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(h)))


def test_duckdb_zones_crossmatch_equals_all_pairs_across_ra_wrap_and_poles():
    rng = np.random.default_rng(5)
    radius = 20.0 / 3600.0
    # objects crowded across RA 0/360, at both poles and near a zone boundary, plus a uniform sky
    centres = [(0.0, 0.0), (359.999, 45.0), (0.001, -60.0), (10.0, radius * 3)]
    ra = np.concatenate([rng.normal(c[0], 0.01, 300) for c in centres] + [rng.uniform(0, 360, 2600)]) % 360.0
    near_pole = 90.0 - np.abs(rng.normal(0, 0.005, 600))  # all RAs, within arcseconds of the poles
    dec = np.concatenate([rng.normal(c[1], 0.01, 300) for c in centres] + [near_pole[:300], -near_pole[300:]]
                         + [np.degrees(np.arcsin(rng.uniform(-1, 1, 2000)))]).clip(-90, 90)
    objects = pa.table({"id": np.arange(len(ra)), "ra": ra, "dec": dec})
    picked = rng.choice(len(ra), 1500, replace=False)
    match = pa.table({"id": np.arange(1500), "ra": (ra[picked] + rng.normal(0, radius, 1500)) % 360.0,
                      "dec": (dec[picked] + rng.normal(0, radius, 1500)).clip(-90, 90)})
    expected = int(np.sum(_separation_deg(match["ra"].to_numpy()[:, None], match["dec"].to_numpy()[:, None],
                                          ra[None, :], dec[None, :]) < radius))
    connection = duckdb.connect()
    connection.register("objects", objects)
    connection.register("match", match)
    assert expected > 1000
    assert connection.sql(duckdb_zones_sql(radius)).fetchall()[0][0] == expected


def test_difference_names_the_first_differing_value_and_the_largest_relative_difference():
    from bench.scaling import difference

    assert difference((3, 1.0, 2.0, 4.0), (3, 1.0, 2.5, 5.0)) == (
        "2 of 4 values differently, the first at [2]: 2.0 instead of 2.5 (largest relative difference 2.0e-01)")
    assert difference(7, 8) == "7 instead of 8"

"""The bundled real catalogs (Gaia DR3, Hipparcos 2) and Rubin's APDB schema, on both backends."""

import healpy
import numpy as np
import pyarrow as pa

from qserv.ingest.bundled import gaia_dr3, hipparcos
from qserv.meta.admin import TableSpec
from qserv.schema.felis import load_felis_table, sdm_schema_path


def check_loaded(engine, qualified, data, key, chunk_order):
    chunks = engine.chunks(qualified)
    assert sum(rows for _, rows, _, _ in chunks) == len(data)
    pixels = healpy.ang2pix(1 << chunk_order, data["ra"].to_numpy(), data["dec"].to_numpy(), nest=True, lonlat=True)
    expected_chunks, expected_rows = np.unique(pixels, return_counts=True)
    assert {c: rows for c, rows, _, _ in chunks if rows} == dict(zip(expected_chunks.tolist(), expected_rows.tolist()))
    stored = engine.read_table(qualified).sort_by(key)
    assert stored.equals(data.select(stored.schema.names).sort_by(key).cast(stored.schema))


def test_gaia_dr3_and_hipparcos(engine, database_name):
    engine.create_database(database_name, chunk_order=6, subchunk_order=9, overlap_arcsec=60, replication=2)
    gaia, gaia_columns = gaia_dr3()
    engine.create_table(f"{database_name}.Gaia", TableSpec(kind="director", columns=gaia_columns,
                                                          id_column="source_id", ra_column="ra", dec_column="dec"))
    engine.ingest(f"{database_name}.Gaia", [gaia])
    check_loaded(engine, f"{database_name}.Gaia", gaia, "source_id", 6)

    hip, hip_columns = hipparcos()
    engine.create_table(f"{database_name}.Hipparcos", TableSpec(kind="director", columns=hip_columns,
                                                               id_column="hip", ra_column="ra", dec_column="dec"))
    engine.ingest(f"{database_name}.Hipparcos", [hip.slice(0, 60_000), hip.slice(60_000)])
    check_loaded(engine, f"{database_name}.Hipparcos", hip, "hip", 6)


def test_apdb_felis_tables_one_visit(engine, database_name):
    apdb = sdm_schema_path("apdb")
    objects_def, sources_def = load_felis_table(apdb, "DiaObject"), load_felis_table(apdb, "DiaSource")
    engine.create_database(database_name, chunk_order=7, subchunk_order=10, overlap_arcsec=60)
    engine.create_table(f"{database_name}.DiaObject", TableSpec(
        kind="director", columns=objects_def.columns, id_column="diaObjectId", ra_column="ra", dec_column="dec",
        non_unique=True, felis=objects_def.felis))
    engine.create_table(f"{database_name}.DiaSource", TableSpec(
        kind="child", columns=sources_def.columns, director="DiaObject", director_key="diaObjectId",
        ra_column="ra", dec_column="dec", felis=sources_def.felis))
    rng = np.random.default_rng(0)
    n_objects, n_sources = 2000, 10_000
    ra0, dec0 = 150.0, 2.2  # one LSST field of view
    objects = {"diaObjectId": np.arange(n_objects), "validityStartMjdTai": np.full(n_objects, 61000.1),
               "ra": ra0 + rng.uniform(-1.7, 1.7, n_objects), "dec": dec0 + rng.uniform(-1.7, 1.7, n_objects),
               "nDiaSources": np.full(n_objects, 5, np.int32)}
    for band in "ugrizy":
        objects[f"{band}_psfFluxNdata"] = np.zeros(n_objects, np.int32)
    parent = rng.integers(0, n_objects, n_sources)
    sources = {"diaSourceId": np.arange(n_sources), "visit": np.full(n_sources, 7), "detector": np.full(n_sources, 3, np.int16),
               "diaObjectId": pa.array(np.where(np.arange(n_sources) % 10 == 0, -1, parent)).to_pylist(),
               "midpointMjdTai": np.full(n_sources, 61000.2),
               "ra": objects["ra"][parent] + rng.normal(0, 1e-5, n_sources),
               "dec": objects["dec"][parent] + rng.normal(0, 1e-5, n_sources),
               "x": rng.uniform(0, 4000, n_sources).astype(np.float32), "y": rng.uniform(0, 4000, n_sources).astype(np.float32),
               "psfNdata": np.zeros(n_sources, np.int32), "trailNdata": np.zeros(n_sources, np.int32),
               "dipoleNdata": np.zeros(n_sources, np.int32), "timeProcessedMjdTai": np.full(n_sources, 61000.3),
               "bboxSize": np.full(n_sources, 15, np.int32)}
    sources["diaObjectId"] = [None if v == -1 else v for v in sources["diaObjectId"]]
    transaction_id = engine.transactions.begin(database_name, note="visit 7")
    engine.transactions.contribute(transaction_id, "DiaObject", pa.table(objects), key="visit-7-objects")
    engine.transactions.contribute(transaction_id, "DiaSource", pa.table(sources), key="visit-7-sources")
    engine.transactions.commit(transaction_id)
    stored = engine.read_table(f"{database_name}.DiaSource")
    assert stored.num_columns == 103 and len(stored) == n_sources
    assert stored["diaObjectId"].null_count == n_sources // 10
    assert sum(rows for _, rows, _, _ in engine.chunks(f"{database_name}.DiaObject")) == n_objects

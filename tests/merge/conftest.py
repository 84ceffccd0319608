"""sky.Object with random rows (NULLs in mag, band and nobs) on an engine of either backend."""

import contextlib

import numpy as np
import pyarrow as pa
import pytest

import qserv
from qserv.meta.admin import TableSpec
from qserv.schema.columns import Column

OBJECT_COLUMNS = [Column("objectId", "long", False), Column("ra", "double", False), Column("decl", "double", False),
                  Column("mag", "double"), Column("band", "char"), Column("nobs", "int")]


def sky_objects(rows, seed):
    rng = np.random.default_rng(seed)
    return pa.table({
        "objectId": np.arange(rows, dtype=np.int64),
        "ra": rng.uniform(0, 360, rows),
        "decl": np.degrees(np.arcsin(rng.uniform(-1, 1, rows))),
        "mag": pa.array(rng.normal(20, 2, rows).round(2), mask=rng.random(rows) < 0.1),
        "band": pa.array(rng.choice(list("ugrizy"), rows), mask=rng.random(rows) < 0.05),
        "nobs": pa.array(rng.integers(0, 6, rows).astype(np.int32), mask=rng.random(rows) < 0.05),
    })


@pytest.fixture(scope="module")
def sky_engine(tmp_path_factory, new_instance):
    """A factory: ``sky_engine(backend, objects)`` is an open engine (2 workers, chunk order 4) whose
    sky.Object holds the rows ``objects``; closed at the end of the module."""
    with contextlib.ExitStack() as stack:
        def open_engine(backend, objects):
            home = tmp_path_factory.mktemp(f"merge-{backend}")
            new_instance(home, backend, 2)
            opened = stack.enter_context(qserv.open(home))
            opened.create_database("sky", chunk_order=4, subchunk_order=7, overlap_arcsec=30.0)
            opened.create_table("sky.Object", TableSpec("director", OBJECT_COLUMNS, id_column="objectId",
                                                        ra_column="ra", dec_column="decl"))
            opened.ingest("sky.Object", [objects])
            return opened
        yield open_engine

"""Fixtures of the security tests: a published sky.Object (objectId, ra, decl, name) on two
workers of a backend, and Flask's test client over an open engine."""

import numpy as np
import pyarrow as pa
import pytest

import qserv
from qserv.api.app import create_app
from qserv.meta.admin import TableSpec
from qserv.schema.columns import Column

COLUMNS = [Column("objectId", "long", False), Column("ra", "double", False),
           Column("decl", "double", False), Column("name", "string")]


def sky_objects(count, seed):
    """``count`` rows of sky.Object, uniform on the sphere."""
    rng = np.random.default_rng(seed)
    return pa.table({"objectId": np.arange(count, dtype=np.int64), "ra": rng.uniform(0, 360, count),
                     "decl": np.degrees(np.arcsin(rng.uniform(-1, 1, count))),
                     "name": [f"n{i}" for i in range(count)]})


@pytest.fixture(scope="module")
def open_sky(tmp_path_factory, new_instance):
    """A factory: ``open_sky(backend, rows)`` is an open Engine (``.backend`` set) whose published
    sky.Object holds ``rows``; closed at the end of the module."""
    opened = []

    def create(backend, rows):
        home = tmp_path_factory.mktemp(f"sky-{backend}")
        new_instance(home, backend, 2)
        engine = qserv.open(home)
        opened.append(engine)
        engine.create_database("sky", chunk_order=3, subchunk_order=6, overlap_arcsec=60.0)
        engine.create_table("sky.Object", TableSpec("director", COLUMNS, id_column="objectId",
                                                    ra_column="ra", dec_column="decl"))
        engine.ingest("sky.Object", [rows])
        engine.publish("sky")  # for TAP
        engine.backend = backend
        return engine

    yield create
    for engine in opened:
        engine.close()


@pytest.fixture(scope="module")
def client(engine):
    """Flask's test client over the module's ``engine``."""
    app = create_app({"engine": engine, "cleanup_interval_s": 3600})
    yield app.test_client()
    app.extensions["qserv"].stopping.set()

"""chunkId / subChunkId readable as columns of partitioned tables (issue 16, item 8), both backends."""

import healpy
import numpy as np
import pytest

from qserv.errors import QuerySyntaxError, UnsupportedQueryError
from qserv.meta.admin import TableSpec
from qserv.schema.columns import Column
from tests.merge.conftest import sky_engine, sky_objects  # noqa: F401 (a fixture)

CHUNK_ORDER, SUBCHUNK_ORDER = 4, 7  # those of the sky_engine fixture
ROWS = 3000


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def sky(request, sky_engine):  # noqa: F811
    objects = sky_objects(ROWS, seed=16)
    engine = sky_engine(request.param, objects)
    engine.create_table("sky.Filter", TableSpec("replicated", [Column("band", "char", False)]))
    ra, dec = objects["ra"].to_numpy(), objects["decl"].to_numpy()
    # HEALPix nested pixels at the chunk and sub-chunk orders (qserv.sphere.chunking's definition)
    chunks = healpy.ang2pix(2**CHUNK_ORDER, ra, dec, lonlat=True, nest=True)
    subchunks = healpy.ang2pix(2**SUBCHUNK_ORDER, ra, dec, lonlat=True, nest=True)
    return engine, chunks, subchunks


def _ids(result, name):
    return result.column(name).to_numpy()


@pytest.mark.parametrize("lang", ["adql", "qserv"])
def test_chunk_columns_of_every_row(sky, lang):
    engine, chunks, subchunks = sky
    result = engine.query("SELECT objectId, chunkId, SUBCHUNKID FROM sky.Object", lang=lang)
    assert result.column_names == ["objectId", "chunkId", "SUBCHUNKID"]
    order = np.argsort(_ids(result, "objectId"))
    assert len(order) == ROWS  # no overlap copies
    assert np.array_equal(_ids(result, "chunkId")[order], chunks)
    assert np.array_equal(_ids(result, "SUBCHUNKID")[order], subchunks)


@pytest.mark.parametrize("lang", ["adql", "qserv"])
def test_where_chunk_id(sky, lang):
    engine, chunks, _ = sky
    chunk = int(np.bincount(chunks).argmax())
    result = engine.query(f"SELECT o.objectId FROM sky.Object AS o WHERE o.chunkId = {chunk}", lang=lang)
    assert sorted(_ids(result, "objectId")) == list(np.flatnonzero(chunks == chunk))
    for each in np.unique(chunks)[:4]:  # the same shape again: the plan cache must not reuse the chunks
        count = engine.query(f"SELECT COUNT(*) AS n FROM sky.Object WHERE chunkId = {each}", lang=lang)
        assert _ids(count, "n")[0] == np.count_nonzero(chunks == each)
    other = int(np.flatnonzero(np.bincount(chunks))[0])
    plan = engine.explain(f"SELECT objectId FROM sky.Object WHERE chunkId IN ({chunk}, {other}, -7) AND ra >= 0",
                          lang=lang)
    assert "\nchunks: 2 of " in plan  # only those chunks are read


@pytest.mark.parametrize("lang", ["adql", "qserv"])
def test_group_by_chunk_id(sky, lang):
    engine, chunks, _ = sky
    result = engine.query("SELECT chunkId, COUNT(*) AS n FROM sky.Object GROUP BY chunkId", lang=lang)
    counts = np.bincount(chunks)
    assert dict(zip(_ids(result, "chunkId"), _ids(result, "n"))) == \
        {chunk: counts[chunk] for chunk in np.flatnonzero(counts)}


def test_order_by_sub_chunk_id(sky):
    engine, _, subchunks = sky
    result = engine.query("SELECT TOP 20 objectId FROM sky.Object ORDER BY subChunkId DESC, objectId")
    expected = np.lexsort((np.arange(ROWS), -subchunks))[:20]
    assert list(_ids(result, "objectId")) == list(expected)


def test_select_star_hides_them(sky):
    engine, _, _ = sky
    result = engine.query("SELECT * FROM sky.Object WHERE objectId < 3")
    assert result.column_names == ["objectId", "ra", "decl", "mag", "band", "nobs"]


def test_refused_on_a_replicated_table(sky):
    engine, _, _ = sky
    with pytest.raises(UnsupportedQueryError, match="sky.Filter is a replicated table"):
        engine.query("SELECT band, chunkId FROM sky.Filter")
    with pytest.raises(UnsupportedQueryError, match="chunkId is ambiguous"):
        engine.query("SELECT a.objectId, chunkId FROM sky.Object AS a JOIN sky.Object AS b ON a.objectId = b.objectId")
    with pytest.raises(QuerySyntaxError, match="unknown column"):
        engine.query('SELECT "chunkId" FROM sky.Object')  # a delimited name must be a real column

"""SHOW TABLES, SHOW COLUMNS, DESCRIBE and DATABASE() of Qserv SQL (qserv.sql.show), answered from
the catalog, on DuckDB and PostgreSQL workers: compared with the tables and columns created."""

import pyarrow as pa
import pytest

import qserv
from qserv.errors import UserError
from qserv.meta.admin import TableSpec
from qserv.schema.columns import Column

COLUMNS = {
    "Star": [Column("starId", "long", nullable=False), Column("ra", "double", nullable=False),
             Column("decl", "double", nullable=False), Column("mag", "float"), Column("flags", "short"),
             Column("name", "string"), Column("seen", "boolean")],
    "Band": [Column("bandId", "int", nullable=False), Column("label", "string")],
}
MYSQL = {"long": "bigint", "double": "double", "float": "float", "short": "smallint", "int": "int",
         "string": "text", "boolean": "boolean"}


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def engine(request, tmp_path_factory, new_instance):
    home = tmp_path_factory.mktemp(f"show-{request.param}")
    new_instance(home, request.param, 1)
    opened = qserv.open(home)
    opened.create_database("cat", chunk_order=3, subchunk_order=5, overlap_arcsec=60.0)
    opened.create_table("cat.Star", TableSpec(kind="director", columns=COLUMNS["Star"], id_column="starId",
                                              ra_column="ra", dec_column="decl"))
    opened.create_table("cat.Band", TableSpec(kind="replicated", columns=COLUMNS["Band"]))
    opened.ingest("cat.Band", [pa.table({"bandId": pa.array([1], pa.int32()), "label": ["g"]})])
    opened.publish("cat")
    yield opened
    opened.close()


def test_show_tables(engine):
    for text, db in (("SHOW TABLES", "cat"), ("SHOW TABLES FROM cat", None), ("show tables from cat", "cat")):
        result = engine.query(text, lang="qserv", db=db)
        assert result.column_names == ["Tables_in_cat"]
        assert result.column(0).to_pylist() == sorted(COLUMNS)


@pytest.mark.parametrize("text, db", [("SHOW COLUMNS FROM Star", "cat"), ("SHOW COLUMNS FROM star FROM cat", None),
                                      ("DESCRIBE cat.Star", None), ("DESC Star", "cat")])
def test_columns_in_order_with_their_types(engine, text, db):
    result = engine.query(text, lang="qserv", db=db)
    assert result.column_names == ["Field", "Type"]
    assert result.to_pylist() == [{"Field": c.name, "Type": MYSQL[c.datatype]} for c in COLUMNS["Star"]]


def test_database(engine):
    assert engine.query("SELECT DATABASE() AS d", lang="qserv", db="cat").to_pylist() == [{"d": "cat"}]
    assert engine.query("SELECT DATABASE() AS d, COUNT(*) AS n FROM cat.Band", lang="qserv").to_pylist() == \
        [{"d": None, "n": 1}]


def test_other_statements_refused(engine):
    for text in ("SHOW DATABASES", "SHOW PROCESSLIST"):
        with pytest.raises(UserError, match="not supported|only SELECT"):
            engine.query(text, lang="qserv", db="cat")
    with pytest.raises(UserError, match="only SELECT"):
        engine.query("DESCRIBE Star", lang="adql", db="cat")

"""TAP_SCHEMA generated from the central state (qserv.meta.tap_schema): it describes itself with
its five foreign keys, every catalog column with the types of the one type map, the keys between
tables, and the Felis metadata (units, UCDs, descriptions, TAP annotations) of Rubin schemas."""

import pytest

from qserv.instance import init_instance, read_instance
from qserv.meta.admin import TableSpec, create_database, create_table
from qserv.meta.store import MetaStore
from qserv.meta.tap_schema import (
    TAP_SCHEMA_COLUMNS,
    adql_identifier,
    tap_schema_tables,
)
from qserv.schema.columns import Column
from qserv.schema.felis import load_felis_tables, sdm_schema_path
from qserv.schema.types import arrow_schema, tap_column

TAP_1_1_COLUMNS = {
    "schemas": ["schema_name", "utype", "description", "schema_index"],
    "tables": ["schema_name", "table_name", "table_type", "utype", "description", "table_index"],
    "columns": ["table_name", "column_name", "datatype", "arraysize", "xtype", "size",
                "description", "utype", "unit", "ucd", "indexed", "principal", "std",
                "column_index"],
    "keys": ["key_id", "from_table", "target_table", "description", "utype"],
    "key_columns": ["key_id", "from_column", "target_column"],
}
INTEGER_COLUMNS = {"schema_index", "table_index", "size", "indexed", "principal", "std",
                   "column_index"}

OBJECT = [Column("objectId", "long", False, description="object id"),
          Column("ra", "double", False, unit="deg", ucd="pos.eq.ra"),
          Column("decl", "double", False, unit="deg", ucd="pos.eq.dec"),
          Column("mag", "float", unit="mag", ucd="phot.mag", description="magnitude"),
          Column("name", "string", length=20),
          Column("code", "char", length=3),
          Column("seen", "timestamp"),
          Column("size", "int", description="a column named like an ADQL reserved word")]
SOURCE = [Column("sourceId", "long", False), Column("objectId", "long"),
          Column("ra", "double"), Column("decl", "double"), Column("flux", "double")]
FILTER = [Column("band", "char", length=1), Column("wavelength_nm", "double")]
EVENTS = [Column("eventId", "long", False), Column("mjd", "double"), Column("what", "text")]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    home = init_instance(tmp_path_factory.mktemp("tap-schema") / "home", workers=2)
    store = MetaStore(read_instance(home)["meta_url"])
    store.ensure_current()
    yield store
    store.dispose()


@pytest.fixture(scope="module")
def catalog(store):
    """Databases "sky" (director, child, replicated, time tables) and "ap" (Rubin Felis tables)."""
    apdb = load_felis_tables(sdm_schema_path("apdb"))
    dp02 = load_felis_tables(sdm_schema_path("dp02_dc2"))

    def felis(table, kind, **options):
        return TableSpec(kind, table.columns, felis=table.felis, description=table.description,
                         **options)

    with store.session() as session:
        create_database(session, "sky", chunk_order=5, subchunk_order=8)
        create_table(session, "sky", "Object", TableSpec(
            "director", OBJECT, id_column="objectId", ra_column="ra", dec_column="decl",
            description="the objects"))
        create_table(session, "sky", "Source", TableSpec(
            "child", SOURCE, director="Object", director_key="objectId", ra_column="ra",
            dec_column="decl"))
        create_table(session, "sky", "Filter", TableSpec("replicated", FILTER))
        create_table(session, "sky", "Events", TableSpec(
            "time", EVENTS, partition_column="mjd", bucket_days=30.0))
        create_database(session, "ap", chunk_order=5, subchunk_order=8)
        create_table(session, "ap", "DiaObject", felis(
            apdb["DiaObject"], "director", id_column="diaObjectId", ra_column="ra",
            dec_column="dec", non_unique=True))
        create_table(session, "ap", "DiaSource", felis(
            apdb["DiaSource"], "child", director="DiaObject", director_key="diaObjectId",
            ra_column="ra", dec_column="dec"))
        create_table(session, "ap", "SSSource", felis(apdb["SSSource"], "replicated"))
        create_table(session, "ap", "SSObject", felis(apdb["SSObject"], "replicated"))
        create_table(session, "ap", "Visit", felis(dp02["Visit"], "replicated"))
    with store.session() as session:
        return tap_schema_tables(session, include_unpublished=True)


def rows(catalog, name, **where):
    return [row for row in catalog[name].to_pylist()
            if all(row[key] == value for key, value in where.items())]


def column_rows(catalog, table_name):
    return {row["column_name"]: row for row in rows(catalog, "columns", table_name=table_name)}


def keys_of(catalog, from_table):
    found = {}
    for key in rows(catalog, "keys", from_table=from_table):
        pairs = [(pair["from_column"], pair["target_column"])
                 for pair in rows(catalog, "key_columns", key_id=key["key_id"])]
        found[key["key_id"]] = (key["target_table"], pairs)
    return found


def test_declared_columns_are_those_of_tap_1_1_with_descriptions():
    assert {name: [column.name for column in columns]
            for name, columns in TAP_SCHEMA_COLUMNS.items()} == TAP_1_1_COLUMNS
    for columns in TAP_SCHEMA_COLUMNS.values():
        for column in columns:
            assert column.description
            expected = "int" if column.name in INTEGER_COLUMNS else "string"
            assert (column.datatype, column.length) == (expected, None), column


def test_arrow_schemas_are_those_of_the_declared_columns(catalog):
    assert set(catalog) == set(TAP_SCHEMA_COLUMNS)
    for name, table in catalog.items():
        assert table.schema == arrow_schema(TAP_SCHEMA_COLUMNS[name])
        assert table.schema.names == TAP_1_1_COLUMNS[name]


def test_tap_schema_describes_itself_and_its_five_keys(catalog):
    assert rows(catalog, "schemas")[-1]["schema_name"] == "TAP_SCHEMA"
    tables = [row["table_name"] for row in rows(catalog, "tables", schema_name="TAP_SCHEMA")]
    assert tables == [f"TAP_SCHEMA.{name}" for name in TAP_1_1_COLUMNS]
    for name, declared in TAP_SCHEMA_COLUMNS.items():
        described = column_rows(catalog, f"TAP_SCHEMA.{name}")
        assert list(described) == [adql_identifier(column.name) for column in declared]
        for column in declared:
            row = described[adql_identifier(column.name)]
            assert {key: row[key] for key in ("datatype", "arraysize", "xtype", "size")} == \
                tap_column(column)
            assert (row["description"], row["std"], row["principal"]) == (column.description, 1, 1)
    assert '"size"' in column_rows(catalog, "TAP_SCHEMA.columns")  # a reserved word: delimited
    found = {(key["from_table"], key["target_table"],
              tuple((pair["from_column"], pair["target_column"])
                    for pair in rows(catalog, "key_columns", key_id=key["key_id"])))
             for key in rows(catalog, "keys") if key["from_table"].startswith("TAP_SCHEMA.")}
    assert found == {
        ("TAP_SCHEMA.tables", "TAP_SCHEMA.schemas", (("schema_name", "schema_name"),)),
        ("TAP_SCHEMA.columns", "TAP_SCHEMA.tables", (("table_name", "table_name"),)),
        ("TAP_SCHEMA.keys", "TAP_SCHEMA.tables", (("from_table", "table_name"),)),
        ("TAP_SCHEMA.keys", "TAP_SCHEMA.tables", (("target_table", "table_name"),)),
        ("TAP_SCHEMA.key_columns", "TAP_SCHEMA.keys", (("key_id", "key_id"),)),
    }
    assert len([key for key in rows(catalog, "keys")
                if key["from_table"].startswith("TAP_SCHEMA.")]) == 5


def test_every_catalog_column_appears_in_order_with_the_types_of_tap_column(catalog):
    assert [row["schema_name"] for row in rows(catalog, "schemas")] == ["ap", "sky", "TAP_SCHEMA"]
    assert [row["table_name"] for row in rows(catalog, "tables", schema_name="sky")] == [
        "sky.Events", "sky.Filter", "sky.Object", "sky.Source"]
    for table_name, columns in (("sky.Object", OBJECT), ("sky.Source", SOURCE),
                                ("sky.Filter", FILTER), ("sky.Events", EVENTS)):
        described = rows(catalog, "columns", table_name=table_name)
        assert [row["column_name"] for row in described] == [
            adql_identifier(column.name) for column in columns]
        for position, (row, column) in enumerate(zip(described, columns), start=1):
            assert {key: row[key] for key in ("datatype", "arraysize", "xtype", "size")} == \
                tap_column(column)
            assert (row["unit"], row["ucd"], row["description"]) == (
                column.unit, column.ucd, column.description)
            assert (row["column_index"], row["std"]) == (position, 0)
    objects = column_rows(catalog, "sky.Object")
    assert (objects["name"]["datatype"], objects["name"]["arraysize"], objects["name"]["size"]) == (
        "char", "20*", 20)
    assert (objects["code"]["arraysize"], objects["seen"]["xtype"]) == ("3", "timestamp")
    assert '"size"' in objects and "size" not in objects
    assert rows(catalog, "tables", table_name="sky.Object")[0]["description"] == "the objects"
    assert all(row["table_type"] == "table" for row in rows(catalog, "tables"))


def test_indexed_and_principal_columns(catalog):
    def flags(table_name, flag):
        return {name for name, row in column_rows(catalog, table_name).items() if row[flag]}

    assert flags("sky.Object", "indexed") == {"objectId", "ra", "decl"}
    assert flags("sky.Object", "principal") == {"objectId", "ra", "decl"}
    assert flags("sky.Source", "indexed") == {"objectId", "ra", "decl"}
    assert flags("sky.Events", "indexed") == {"mjd"}
    assert flags("sky.Filter", "indexed") == set()
    assert flags("sky.Filter", "principal") == {"band", "wavelength_nm"}  # nothing special: all
    assert flags("ap.DiaObject", "indexed") == {"diaObjectId", "ra", '"dec"'}


def test_child_to_director_key(catalog):
    assert keys_of(catalog, "sky.Source") == {
        "sky.Source_to_Object": ("sky.Object", [("objectId", "objectId")])}
    assert keys_of(catalog, "sky.Object") == {}
    assert keys_of(catalog, "ap.DiaSource") == {
        "ap.DiaSource_to_DiaObject": ("ap.DiaObject", [("diaObjectId", "diaObjectId")])}


def test_felis_foreign_keys_within_the_database(catalog):
    # apdb declares SSSource -> DiaSource, SSObject and mpc_orbits; mpc_orbits is not loaded
    assert keys_of(catalog, "ap.SSSource") == {
        "ap.fk_SSSource_DiaSource": ("ap.DiaSource", [("diaSourceId", "diaSourceId")]),
        "ap.fk_SSSource_SSObject": ("ap.SSObject", [("ssObjectId", "ssObjectId")]),
    }
    assert keys_of(catalog, "ap.SSObject") == {}
    key = rows(catalog, "keys", key_id="ap.fk_SSSource_DiaSource")[0]
    assert key["description"] == "Link an SSSource to its associated DiaSource"


def test_felis_tables_give_units_ucds_and_descriptions(catalog):
    apdb = load_felis_tables(sdm_schema_path("apdb"))
    source = column_rows(catalog, "ap.DiaSource")
    assert len(source) == len(apdb["DiaSource"].columns)
    ra = source["ra"]
    assert (ra["unit"], ra["ucd"], ra["datatype"]) == ("deg", "pos.eq.ra", "double")
    assert ra["description"] and ra["description"] == next(
        column.description for column in apdb["DiaSource"].columns if column.name == "ra")
    described = [row for row in source.values() if row["unit"]]
    assert len(described) > 20
    assert rows(catalog, "tables", table_name="ap.DiaSource")[0]["description"] == \
        apdb["DiaSource"].description


def test_felis_tap_annotations_give_principal_column_index_and_table_index(catalog):
    visit = load_felis_tables(sdm_schema_path("dp02_dc2"))["Visit"].felis
    described = column_rows(catalog, "ap.Visit")
    for column in visit["columns"]:
        row = described[adql_identifier(column["name"])]
        assert row["principal"] == column.get("tap:principal", 0)
        assert row["column_index"] == column["tap:column_index"]
    assert rows(catalog, "tables", table_name="ap.Visit")[0]["table_index"] == \
        visit["tap:table_index"]
    assert column_rows(catalog, "ap.Visit")["expMidpt"]["xtype"] == "timestamp"


def test_referential_integrity(catalog):
    schemas = {row["schema_name"] for row in rows(catalog, "schemas")}
    tables = {row["table_name"]: row for row in rows(catalog, "tables")}
    assert {row["schema_name"] for row in tables.values()} <= schemas
    columns = {}
    for row in rows(catalog, "columns"):
        assert row["table_name"] in tables
        columns.setdefault(row["table_name"], set()).add(row["column_name"])
    key_ids = [row["key_id"] for row in rows(catalog, "keys")]
    assert len(key_ids) == len(set(key_ids))
    for key in rows(catalog, "keys"):
        pairs = rows(catalog, "key_columns", key_id=key["key_id"])
        assert pairs
        for pair in pairs:
            assert pair["from_column"] in columns[key["from_table"]]
            assert pair["target_column"] in columns[key["target_table"]]
    assert {row["key_id"] for row in rows(catalog, "key_columns")} <= set(key_ids)
    for name, table in catalog.items():
        for column in TAP_SCHEMA_COLUMNS[name]:
            if not column.nullable:
                assert table.column(column.name).null_count == 0, (name, column.name)


def test_the_contents_are_deterministic(store, catalog):
    with store.session() as session:
        again = tap_schema_tables(session, include_unpublished=True)
    assert all(again[name].equals(catalog[name]) for name in catalog)


def test_an_empty_catalog_has_only_tap_schema(tmp_path):
    home = init_instance(tmp_path / "home", workers=1)
    store = MetaStore(read_instance(home)["meta_url"])
    store.ensure_current()
    try:
        with store.session() as session:
            contents = tap_schema_tables(session, include_unpublished=True)
    finally:
        store.dispose()
    assert [row["schema_name"] for row in contents["schemas"].to_pylist()] == ["TAP_SCHEMA"]
    assert contents["tables"].num_rows == 5 and contents["keys"].num_rows == 5
    assert contents["columns"].num_rows == sum(len(c) for c in TAP_SCHEMA_COLUMNS.values())


@pytest.mark.parametrize("name, written", [
    ("objectId", "objectId"), ("size", '"size"'), ("dec", '"dec"'), ("DEC", '"DEC"'),
    ("Point", '"Point"'), ("ra", "ra"), ("_hidden", '"_hidden"'), ("coord1x", "coord1x"),
])
def test_adql_identifiers_are_delimited_when_reserved_or_irregular(name, written):
    assert adql_identifier(name) == written

"""Loading tables from Felis YAML (qserv.schema.felis), on the Rubin schemas and on broken files."""

import json
import textwrap

import pytest

from qserv.schema.columns import Column, SchemaError
from qserv.schema.felis import (
    FelisTable,
    load_felis_table,
    load_felis_tables,
    sdm_schema_names,
    sdm_schema_path,
)


@pytest.fixture(scope="module")
def apdb():
    return load_felis_tables(sdm_schema_path("apdb"))


def write(tmp_path, text, name="schema.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def column(table, name):
    return next(c for c in table.columns if c.name == name)


def test_sdm_schema_path_accepts_name_with_or_without_suffix():
    path = sdm_schema_path("apdb")
    assert path.name == "apdb.yaml" and path.is_file()
    assert sdm_schema_path("apdb.yaml") == path
    assert {"apdb", "dp02_dc2"} <= set(sdm_schema_names())


def test_unknown_sdm_schema_lists_the_available_names():
    with pytest.raises(SchemaError, match=r"unknown lsst-sdm-schemas schema 'nope'.*apdb.*dp02_dc2"):
        sdm_schema_path("nope")
    with pytest.raises(SchemaError):
        sdm_schema_path("../apdb")


def test_apdb_diasource(apdb):
    table = apdb["DiaSource"]
    assert isinstance(table, FelisTable)
    assert len(table.columns) == 103
    assert table.primary_key == ["diaSourceId"]
    assert column(table, "diaSourceId") == Column(
        "diaSourceId", "long", nullable=False, ucd="meta.id;obs.image",
        description=column(table, "diaSourceId").description,
    )
    assert column(table, "diaSourceId").description
    detector = column(table, "detector")
    assert (detector.datatype, detector.nullable) == ("short", False)
    ra = column(table, "ra")
    assert (ra.datatype, ra.unit, ra.ucd, ra.nullable) == ("double", "deg", "pos.eq.ra", False)
    midpoint = column(table, "midpointMjdTai")
    assert (midpoint.datatype, midpoint.unit, midpoint.ucd) == ("double", "d", "time.epoch")
    band = column(table, "band")
    assert (band.datatype, band.length) == ("char", 1)
    version = column(table, "reliabilityVersion")
    assert (version.datatype, version.length) == ("string", 7)
    assert column(table, "isDipole").datatype == "boolean"


def test_apdb_diaobject(apdb):
    table = apdb["DiaObject"]
    assert len(table.columns) == 83
    assert table.primary_key == ["diaObjectId", "validityStartMjdTai"]
    err = column(table, "raErr")
    assert (err.datatype, err.unit, err.ucd, err.nullable) == (
        "float", "deg", "stat.error;pos.eq.ra", True
    )
    cov = column(table, "ra_dec_Cov")
    assert (cov.unit, cov.ucd) == ("deg**2", None)
    flux = column(table, "u_psfFluxMean")
    assert (flux.datatype, flux.unit, flux.ucd) == ("float", "nJy", "phot.count")
    assert column(table, "u_psfFluxNdata") == Column(
        "u_psfFluxNdata", "int", nullable=False,
        description=column(table, "u_psfFluxNdata").description,
    )
    assert table.description


def test_dp02_object():
    table = load_felis_table(sdm_schema_path("dp02_dc2"), "Object")
    assert table.name == "Object"
    assert len(table.columns) == 991
    assert table.primary_key == ["objectId"]
    object_id = column(table, "objectId")
    assert (object_id.datatype, object_id.ucd) == ("long", "meta.id;src;meta.main")
    coord_ra = column(table, "coord_ra")
    assert (coord_ra.datatype, coord_ra.unit, coord_ra.ucd) == ("double", "deg", "pos.eq.ra;meta.main")
    assert column(table, "g_psfFlux").unit == "nJy"
    assert column(table, "detect_isPrimary").datatype == "boolean"
    skymap = column(table, "skymap")
    assert (skymap.datatype, skymap.length) == ("char", 12)
    assert column(table, "footprintArea").unit == "pixel"


def test_raw_felis_table_is_kept_as_plain_data(apdb):
    felis = apdb["DiaSource"].felis
    json.dumps(felis)  # plain, JSON-able data for the TAP service
    assert felis["name"] == "DiaSource"
    assert len(felis["columns"]) == 103
    ra = next(c for c in felis["columns"] if c["name"] == "ra")
    assert (ra["datatype"], ra["fits:tunit"], ra["ivoa:ucd"]) == ("double", "deg", "pos.eq.ra")


def test_tables_keep_file_order(apdb):
    assert list(apdb)[:3] == ["metadata", "DiaObject", "DiaSource"]


def test_borrowed_columns_are_resolved_relative_to_the_file(tmp_path, monkeypatch):
    write(tmp_path, """\
        name: base
        tables:
        - name: Source
          columns:
          - {name: ra, datatype: double, "fits:tunit": deg, "ivoa:ucd": pos.eq.ra}
          - {name: dec, datatype: double, "fits:tunit": deg}
        """, "base.yaml")
    path = write(tmp_path, """\
        name: extra
        resources:
          base: {uri: base.yaml}
        tables:
        - name: Prompt
          columns:
          - {name: id, datatype: long, nullable: false}
          columnRefs:
            base:
              Source:
                ra:
        """)
    monkeypatch.chdir(tmp_path.parent)  # the resource URI is relative to the file, not the cwd
    table = load_felis_table(path)
    assert [c.name for c in table.columns] == ["id", "ra"]
    assert column(table, "ra") == Column("ra", "double", unit="deg", ucd="pos.eq.ra")


def test_bundled_schema_with_resources_loads():
    table = load_felis_table(sdm_schema_path("ap_extra"))
    assert table.name == "PromptSource"
    assert {"ra", "dec", "parentSourceId"} <= {c.name for c in table.columns}


def test_single_table_file_needs_no_name_and_ivoa_unit_is_read(tmp_path):
    path = write(tmp_path, """\
        name: s
        tables:
        - name: t
          description: a table
          primaryKey: ["#t.a", "#t.b"]
          columns:
          - {name: a, datatype: int, "ivoa:unit": s}
          - {name: b, datatype: unicode, length: 20, nullable: false}
        """)
    table = load_felis_table(path)
    assert (table.name, table.description, table.primary_key) == ("t", "a table", ["a", "b"])
    assert table.columns == [
        Column("a", "int", unit="s"),
        Column("b", "unicode", nullable=False, length=20),
    ]


def test_several_tables_and_no_name_lists_them(apdb):
    with pytest.raises(SchemaError, match=r"apdb.yaml defines 12 tables; name one of: .*DiaSource"):
        load_felis_table(sdm_schema_path("apdb"))


def test_unknown_table_lists_the_available_ones():
    with pytest.raises(SchemaError, match=r"apdb.yaml: no table 'Nope'; available: .*DiaObject.*DiaSource"):
        load_felis_table(sdm_schema_path("apdb"), "Nope")


def test_missing_file(tmp_path):
    with pytest.raises(SchemaError, match="Felis schema file not found: .*missing.yaml"):
        load_felis_tables(tmp_path / "missing.yaml")


def test_invalid_yaml(tmp_path):
    path = write(tmp_path, "name: s\ntables: [\n")
    with pytest.raises(SchemaError, match=r"^schema.yaml: invalid YAML at line 3, column 1: \S"):
        load_felis_tables(path)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "the document must be a mapping"),
        ("- 1\n- 2\n", "the document must be a mapping"),
        ("tables: []\n", "the schema needs a 'name'"),
        ("name: s\n", "the schema needs a list of 'tables'"),
        ("name: s\ntables:\n- 3\n", "table #1 must be a mapping with a 'name'"),
        ("name: s\ntables:\n- name: t\n  columns: [3]\n", "table 't': 'columns' must be a list"),
        (
            "name: s\ntables:\n- name: t\n  columns:\n  - {name: a, datatype: int64}\n",
            "table 't' column 'a': unknown datatype 'int64'",
        ),
    ],
)
def test_malformed_schemas(tmp_path, text, reason):
    path = write(tmp_path, text)
    with pytest.raises(SchemaError) as info:
        load_felis_tables(path)
    assert str(info.value).startswith("schema.yaml: invalid Felis schema: ")
    assert reason in str(info.value)


def test_felis_validation_errors_name_table_and_column(tmp_path):
    path = write(tmp_path, """\
        name: s
        tables:
        - name: Obj
          columns:
          - {name: flux, datatype: float, "fits:tunit": notaunit}
          - {name: label, datatype: string}
          - {name: ok, datatype: double}
        """)
    with pytest.raises(SchemaError) as info:
        load_felis_tables(path)
    message = str(info.value)
    assert message.startswith("schema.yaml: invalid Felis schema: ")
    assert "tables[Obj].columns[flux]" in message and "Invalid unit" in message
    assert "tables[Obj].columns[label]" in message and "Length must be provided" in message
    assert "columns[ok]" not in message


def test_column_names_qserv_cannot_store_are_schema_errors(tmp_path):
    path = write(tmp_path, """\
        name: s
        tables:
        - name: t
          columns:
          - {name: _qserv_chunk, datatype: long}
        """)
    with pytest.raises(SchemaError, match=r"schema.yaml: table 't': column name '_qserv_chunk' is reserved"):
        load_felis_tables(path)


def test_primary_key_must_name_a_column_of_the_table(tmp_path):
    path = write(tmp_path, """\
        name: s
        tables:
        - name: t
          primaryKey: "#t.nope"
          columns:
          - {name: a, datatype: int}
        """)
    with pytest.raises(
        SchemaError, match=r"schema.yaml: table 't': primary key #t.nope is not a column of the table"
    ):
        load_felis_tables(path)

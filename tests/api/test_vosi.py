"""VOSI documents (qserv.api.tap.vosi): well-formed XML with the declared formats, limits and
endpoints; /tables says what TAP_SCHEMA says; and every ADQL language feature the capabilities
declare really works, checked by running a query with it against brute force on both backends."""

import xml.etree.ElementTree as ET

import numpy as np
import pyarrow as pa
import pytest

import qserv
from qserv.api.tap.formats import output_format
from qserv.api.tap.vosi import (
    LANGUAGE_FEATURES,
    availability_xml,
    capabilities_xml,
    table_xml,
    tables_xml,
)
from qserv.errors import NotFoundError
from qserv.instance import init_instance, read_instance
from qserv.meta.admin import TableSpec, create_database, create_table
from qserv.meta.store import MetaStore
from qserv.meta.tap_schema import tap_schema_tables
from qserv.schema.columns import Column
from qserv.schema.felis import load_felis_tables, sdm_schema_path
from qserv.settings import SETTINGS

VOSI_CAPABILITIES = "{http://www.ivoa.net/xml/VOSICapabilities/v1.0}"
VOSI_AVAILABILITY = "{http://www.ivoa.net/xml/VOSIAvailability/v1.0}"
VOSI_TABLES = "{http://www.ivoa.net/xml/VOSITables/v1.0}"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
FEATURES = "ivo://ivoa.net/std/TAPRegExt#"
BASE = "http://example.org:8080/tap"
DEFAULTS = {spec.name: spec.default for spec in SETTINGS}


def capability(root, standard):
    found = [cap for cap in root.findall("capability") if cap.get("standardID") == standard]
    assert len(found) == 1, standard
    return found[0]


def declared_features():
    root = ET.fromstring(capabilities_xml(BASE, DEFAULTS))
    return [(features.get("type"), feature.findtext("form"))
            for features in root.iter("languageFeatures") for feature in features.findall("feature")]


# -- capabilities and availability -----------------------------------------------------------------

def test_capabilities_declare_the_tap_and_vosi_endpoints():
    root = ET.fromstring(capabilities_xml(BASE + "/", DEFAULTS))
    assert root.tag == VOSI_CAPABILITIES + "capabilities"
    tap = capability(root, "ivo://ivoa.net/std/TAP")
    assert tap.get(XSI_TYPE) == "tr:TableAccess"
    interface = tap.find("interface")
    assert (interface.get(XSI_TYPE), interface.get("role"), interface.get("version")) == (
        "vs:ParamHTTP", "std", "1.1")
    assert (interface.findtext("accessURL"), interface.find("accessURL").get("use")) == (BASE, "base")
    for standard, path in (("ivo://ivoa.net/std/VOSI#capabilities", "/capabilities"),
                           ("ivo://ivoa.net/std/VOSI#availability", "/availability"),
                           ("ivo://ivoa.net/std/VOSI#tables-1.1", "/tables")):
        access = capability(root, standard).find("interface/accessURL")
        assert (access.text, access.get("use")) == (BASE + path, "full")
    language = tap.find("language")
    assert language.findtext("name") == "ADQL"
    assert [(version.text, version.get("ivo-id")) for version in language.findall("version")] == [
        ("2.0", "ivo://ivoa.net/std/ADQL#v2.0"), ("2.1", "ivo://ivoa.net/std/ADQL#v2.1")]
    # TAPRegExt's sequence order
    assert [child.tag for child in tap if child.tag not in ("outputFormat", "uploadMethod")] == [
        "interface", "language", "retentionPeriod", "executionDuration", "outputLimit",
        "uploadLimit"]


def test_capabilities_declare_the_output_formats_the_service_writes():
    tap = capability(ET.fromstring(capabilities_xml(BASE, DEFAULTS)), "ivo://ivoa.net/std/TAP")
    formats = {(fmt.findtext("mime"), tuple(alias.text for alias in fmt.findall("alias")),
                fmt.get("ivo-id")) for fmt in tap.findall("outputFormat")}
    assert formats == {
        ("application/x-votable+xml", ("votable",), FEATURES + "output-votable-binary2"),
        ("application/x-votable+xml;serialization=TABLEDATA", ("votable/td",),
         FEATURES + "output-votable-td"),
        ("text/csv", ("csv",), None),
        ("text/tab-separated-values", ("tsv",), None),
        ("application/fits", ("fits",), None),
        ("application/vnd.apache.parquet", ("parquet",), None),
    }
    for mime, aliases, _ in formats:  # the RESPONSEFORMAT parser accepts every declared name
        assert output_format(mime).name == output_format(aliases[0]).name
    assert {method.get("ivo-id") for method in tap.findall("uploadMethod")} == {
        FEATURES + "upload-inline", FEATURES + "upload-http", FEATURES + "upload-https"}


def test_capabilities_limits_come_from_the_settings():
    settings = {**DEFAULTS, "tap_job_lifetime_s": 86401, "tap_async_duration_s": 1801,
                "query_timeout_s": 7201, "tap_maxrec_default": 1234, "tap_maxrec_limit": 56789,
                "tap_upload_max_rows": 4321}
    tap = capability(ET.fromstring(capabilities_xml(BASE, settings)), "ivo://ivoa.net/std/TAP")
    assert tap.findtext("retentionPeriod/default") == "86401"
    assert (tap.findtext("executionDuration/default"), tap.findtext("executionDuration/hard")) == (
        "1801", "7201")
    for path, value in (("outputLimit/default", "1234"), ("outputLimit/hard", "56789"),
                        ("uploadLimit/hard", "4321")):
        assert (tap.find(path).text, tap.find(path).get("unit")) == (value, "row")


def test_capabilities_escape_the_base_url():
    url = "http://example.org/tap?a=1&b=<2>"
    root = ET.fromstring(capabilities_xml(url, DEFAULTS))
    assert capability(root, "ivo://ivoa.net/std/TAP").findtext("interface/accessURL") == url


@pytest.mark.parametrize("available", [True, False])
def test_availability(available):
    root = ET.fromstring(availability_xml(available, "back <soon> & \x01well"))
    assert root.tag == VOSI_AVAILABILITY + "availability"
    assert root.findtext(VOSI_AVAILABILITY + "available") == ("true" if available else "false")
    assert root.findtext(VOSI_AVAILABILITY + "note") == "back <soon> & well"
    assert ET.fromstring(availability_xml(True)).find(VOSI_AVAILABILITY + "note") is None


# -- tables ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tap_schema(tmp_path_factory):
    """TAP_SCHEMA of a catalog with a director, a child, a table with awkward text and Rubin
    Felis tables with foreign keys."""
    home = init_instance(tmp_path_factory.mktemp("vosi") / "home", workers=1)
    store = MetaStore(read_instance(home)["meta_url"])
    store.ensure_current()
    apdb = load_felis_tables(sdm_schema_path("apdb"))
    try:
        with store.session() as session:
            create_database(session, "sky", chunk_order=5, subchunk_order=8)
            create_table(session, "sky", "Object", TableSpec(
                "director", [Column("id", "long", False), Column("ra", "double", unit="deg"),
                             Column("dec", "double", unit="deg", ucd="pos.eq.dec"),
                             Column("seen", "timestamp"), Column("name", "string", length=8)],
                id_column="id", ra_column="ra", dec_column="dec"))
            create_table(session, "sky", "Source", TableSpec(
                "child", [Column("sid", "long"), Column("id", "long")], director="Object",
                director_key="id"))
            create_table(session, "sky", "Odd", TableSpec(
                "replicated", [Column("x", "int", description="a < b & \"c\" \x02 'd'")],
                description="<odd> & \x0bugly"))
            create_database(session, "ap", chunk_order=5, subchunk_order=8)
            for name in ("DiaSource", "SSSource", "SSObject"):
                create_table(session, "ap", name, TableSpec(
                    "replicated", apdb[name].columns, felis=apdb[name].felis,
                    description=apdb[name].description))
        with store.session() as session:
            return tap_schema_tables(session, include_unpublished=True)
    finally:
        store.dispose()


def xml_tables(document):
    root = ET.fromstring(document)
    assert root.tag == VOSI_TABLES + "tableset"
    return {table.findtext("name"): (schema.findtext("name"), table)
            for schema in root.findall("schema") for table in schema.findall("table")}


def expected_columns(tap_schema, table_name):
    columns = [row for row in tap_schema["columns"].to_pylist() if row["table_name"] == table_name]
    return sorted(columns, key=lambda row: row["column_index"])


def column_of_xml(element):
    data_type = element.find("dataType")
    assert data_type.get(XSI_TYPE) == "vs:VOTableType"
    flags = {flag.text for flag in element.findall("flag")}
    return {"column_name": element.findtext("name"), "description": element.findtext("description"),
            "unit": element.findtext("unit"), "ucd": element.findtext("ucd"),
            "utype": element.findtext("utype"), "datatype": data_type.text,
            "arraysize": data_type.get("arraysize"), "xtype": data_type.get("extendedType"),
            "indexed": int("indexed" in flags), "principal": int("primary" in flags),
            "std": int(element.get("std") == "true")}


def as_xml_text(value):
    """What XML can carry of a string: control characters other than tab/newline are dropped."""
    if not isinstance(value, str):
        return value
    return "".join(char for char in value if char >= " " or char in "\t\n\r")


def assert_table_matches(tap_schema, table_name, element):
    row = next(row for row in tap_schema["tables"].to_pylist() if row["table_name"] == table_name)
    assert (element.findtext("description"), element.get("type")) == (
        as_xml_text(row["description"]), row["table_type"])
    described = [column_of_xml(column) for column in element.findall("column")]
    expected = [{key: as_xml_text(column[key]) for key in described[0]}
                for column in expected_columns(tap_schema, table_name)]
    assert described == expected
    keys = [(key["key_id"], key["target_table"]) for key in tap_schema["keys"].to_pylist()
            if key["from_table"] == table_name]
    pairs = tap_schema["key_columns"].to_pylist()
    assert [(fk.findtext("targetTable"),
             [(col.findtext("fromColumn"), col.findtext("targetColumn"))
              for col in fk.findall("fkColumn")]) for fk in element.findall("foreignKey")] == [
        (target, [(pair["from_column"], pair["target_column"]) for pair in pairs
                  if pair["key_id"] == key_id]) for key_id, target in keys]


def test_tables_have_the_tables_and_columns_of_tap_schema(tap_schema):
    found = xml_tables(tables_xml(tap_schema))
    expected = {row["table_name"]: row["schema_name"] for row in tap_schema["tables"].to_pylist()}
    assert {name: schema for name, (schema, _) in found.items()} == expected
    assert {"sky.Object", "ap.SSSource", "TAP_SCHEMA.columns"} <= set(found)
    for name, (_, element) in found.items():
        assert_table_matches(tap_schema, name, element)


def test_tables_carry_types_flags_and_keys(tap_schema):
    found = xml_tables(tables_xml(tap_schema))
    columns = {column.findtext("name"): column for column in found["sky.Object"][1].findall("column")}
    assert set(columns) == {"id", "ra", '"dec"', "seen", "name"}
    seen = columns["seen"].find("dataType")
    assert (seen.text, seen.get("arraysize"), seen.get("extendedType")) == ("char", "*", "timestamp")
    assert columns["name"].find("dataType").get("arraysize") == "8*"
    assert {flag.text for flag in columns["id"].findall("flag")} == {"indexed", "primary"}
    assert columns['"dec"'].findtext("ucd") == "pos.eq.dec"
    source_key = found["sky.Source"][1].find("foreignKey")
    assert source_key.findtext("targetTable") == "sky.Object"
    assert {fk.findtext("targetTable") for fk in found["ap.SSSource"][1].findall("foreignKey")} == {
        "ap.DiaSource", "ap.SSObject"}
    assert len(found["TAP_SCHEMA.keys"][1].findall("foreignKey")) == 2


def test_text_is_escaped_and_control_characters_dropped(tap_schema):
    element = xml_tables(tables_xml(tap_schema))["sky.Odd"][1]
    assert element.findtext("description") == "<odd> & ugly"
    assert element.find("column").findtext("description") == "a < b & \"c\"  'd'"


def test_detail_min_lists_tables_without_columns_or_keys(tap_schema):
    document = tables_xml(tap_schema, detail="min")
    found = xml_tables(document)
    assert set(found) == set(xml_tables(tables_xml(tap_schema)))
    root = ET.fromstring(document)
    assert not list(root.iter("column")) and not list(root.iter("foreignKey"))
    assert found["sky.Odd"][1].findtext("description") == "<odd> & ugly"


def test_one_table_document(tap_schema):
    root = ET.fromstring(table_xml(tap_schema, "ap.SSSource"))
    assert root.tag == VOSI_TABLES + "table" and root.findtext("name") == "ap.SSSource"
    assert_table_matches(tap_schema, "ap.SSSource", root)
    assert ET.fromstring(table_xml(tap_schema, "tap_schema.COLUMNS")).findtext("name") == \
        "TAP_SCHEMA.columns"  # case and delimiters may differ when unambiguous
    assert ET.fromstring(table_xml(tap_schema, '"sky"."Object"')).findtext("name") == "sky.Object"
    only = xml_tables(tables_xml(tap_schema, only_table="sky.Source"))
    assert list(only) == ["sky.Source"]


@pytest.mark.parametrize("name", ["sky.Nope", "nope.Object", "Object", ""])
def test_unknown_table_is_not_found(tap_schema, name):
    with pytest.raises(NotFoundError):
        table_xml(tap_schema, name)
    with pytest.raises(NotFoundError):
        tables_xml(tap_schema, only_table=name)


# -- every declared ADQL feature works -------------------------------------------------------------

ROWS = 400


def _data():
    rng = np.random.default_rng(11)
    ra = np.concatenate([rng.uniform(0, 40, ROWS - 40), rng.uniform(350, 360, 40)])
    mag = rng.normal(20, 1, ROWS)
    missing = rng.random(ROWS) < 0.1
    prefixes = ["Star", "STAR", "star", "sTaR"]
    return {"id": np.arange(ROWS, dtype=np.int64), "ra": ra,
            "decl": rng.uniform(-20, 20, ROWS),
            "mag": [None if gone else float(value) for value, gone in zip(mag, missing)],
            "name": [f"{prefixes[i % 4]}{i}" for i in range(ROWS)]}


DATA = _data()
RA, DEC, IDS = DATA["ra"], DATA["decl"], DATA["id"]


def separation(ra_deg, dec_deg):
    ra1, dec1, ra2, dec2 = map(np.radians, (RA, DEC, ra_deg, dec_deg))
    hav = (np.sin((dec2 - dec1) / 2) ** 2
           + np.cos(dec1) * np.cos(dec2) * np.sin((ra2 - ra1) / 2) ** 2)
    return np.degrees(2 * np.arcsin(np.sqrt(hav)))


def vectors(ra_deg, dec_deg):
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


def in_convex_polygon(vertices):
    corners = vectors(*np.array(vertices, dtype=float).T)
    points = vectors(RA, DEC)
    sides = np.stack([points @ np.cross(a, b) for a, b in zip(corners, np.roll(corners, -1, 0))])
    return np.all(sides >= 0, axis=0) | np.all(sides <= 0, axis=0)


def ids(mask):
    return sorted(int(i) for i in IDS[mask])


def values(column):
    return {int(i): value for i, value in zip(IDS, column)}


# (feature type, form) -> (query, expected): a sorted id list; an {id: value} mapping, the value
# being that of the other result column or a tuple of the other columns (floats compared with a
# tolerance); or, for ordered answers, ("ordered", [ids]).
FEATURE_CASES = {
    ("features-adqlgeo", "POINT"): (
        "SELECT id FROM sky.Object WHERE DISTANCE(POINT('ICRS', ra, decl), POINT('ICRS', 10, 5)) < 4",
        ids(separation(10, 5) < 4)),
    ("features-adqlgeo", "CIRCLE"): (
        "SELECT id FROM sky.Object WHERE CONTAINS(POINT(ra, decl), CIRCLE(358, 2, 6)) = 1",
        ids(separation(358, 2) <= 6)),
    ("features-adqlgeo", "BOX"): (
        "SELECT id FROM sky.Object WHERE CONTAINS(POINT(ra, decl), BOX(20, 0, 10, 6)) = 1",
        ids((RA >= 15) & (RA <= 25) & (DEC >= -3) & (DEC <= 3))),
    ("features-adqlgeo", "POLYGON"): (
        "SELECT id FROM sky.Object WHERE "
        "CONTAINS(POINT(ra, decl), POLYGON(5, -10, 30, -12, 28, 10, 6, 8)) = 1",
        ids(in_convex_polygon([(5, -10), (30, -12), (28, 10), (6, 8)]))),
    ("features-adqlgeo", "CONTAINS"): (
        "SELECT id FROM sky.Object WHERE CONTAINS(POINT('ICRS', ra, decl), "
        "CIRCLE('ICRS', 25, -5, 6)) = 1",
        ids(separation(25, -5) <= 6)),
    ("features-adqlgeo", "INTERSECTS"): (
        "SELECT id FROM sky.Object WHERE INTERSECTS(CIRCLE(25, -5, 6), POINT(ra, decl)) = 1",
        ids(separation(25, -5) <= 6)),
    ("features-adqlgeo", "DISTANCE"): (
        "SELECT id, DISTANCE(ra, decl, 10, 5) AS v FROM sky.Object",
        values(separation(10, 5))),
    ("features-adqlgeo", "COORD1"): (
        "SELECT id, COORD1(POINT(ra, decl)) AS v FROM sky.Object", values(RA)),
    ("features-adqlgeo", "COORD2"): (
        "SELECT id, COORD2(POINT(ra, decl)) AS v FROM sky.Object", values(DEC)),
    ("features-adql-string", "LOWER"): (
        "SELECT id, LOWER(name) AS v FROM sky.Object", values(n.lower() for n in DATA["name"])),
    ("features-adql-string", "UPPER"): (
        "SELECT id, UPPER(name) AS v FROM sky.Object", values(n.upper() for n in DATA["name"])),
    ("features-adql-string", "ILIKE"): (
        "SELECT id FROM sky.Object WHERE name ILIKE 'STAR1%'",
        ids(np.array([n.lower().startswith("star1") for n in DATA["name"]]))),
    ("features-adql-type", "CAST"): (  # (how floats are written as text differs per backend)
        "SELECT id, CAST(id AS VARCHAR(12)) AS s, CAST(id AS DOUBLE) / 4 AS d FROM sky.Object "
        "WHERE CAST(CAST(id AS VARCHAR(8)) AS INTEGER) < 50",
        {int(i): (str(i), i / 4) for i in IDS[IDS < 50]}),
    ("features-adql-sets", "UNION"): (
        "SELECT id FROM sky.Object WHERE mag < 19.5 UNION SELECT id FROM sky.Object WHERE ra < 5",
        ids(np.array([m is not None and m < 19.5 for m in DATA["mag"]]) | (RA < 5))),
    ("features-adql-sets", "EXCEPT"): (
        "SELECT id FROM sky.Object WHERE ra < 20 EXCEPT SELECT id FROM sky.Object WHERE decl < 0",
        ids((RA < 20) & ~(DEC < 0))),
    ("features-adql-sets", "INTERSECT"): (
        "SELECT id FROM sky.Object WHERE ra < 20 INTERSECT SELECT id FROM sky.Object WHERE decl < 0",
        ids((RA < 20) & (DEC < 0))),
    ("features-adql-common-table", "WITH"): (
        "WITH bright AS (SELECT id, ra FROM sky.Object WHERE mag < 20) "
        "SELECT id FROM bright WHERE ra < 20",
        ids(np.array([m is not None and m < 20 for m in DATA["mag"]]) & (RA < 20))),
    ("features-adql-offset", "OFFSET"): (
        "SELECT TOP 5 id FROM sky.Object ORDER BY id OFFSET 7", ("ordered", [7, 8, 9, 10, 11])),
}


def test_every_declared_feature_has_a_checking_query():
    declared = {(feature_type.removeprefix(FEATURES), form) for feature_type, form in declared_features()}
    assert declared == set(FEATURE_CASES)
    assert all(feature_type.startswith(FEATURES) for feature_type, _ in LANGUAGE_FEATURES)


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def engine(request, tmp_path_factory, new_instance):
    home = tmp_path_factory.mktemp(f"vosi-{request.param}")
    new_instance(home, request.param, 2)
    columns = [Column("id", "long", False), Column("ra", "double", False),
               Column("decl", "double", False), Column("mag", "double"), Column("name", "string")]
    with qserv.open(home) as opened:
        opened.create_database("sky", chunk_order=5, subchunk_order=8, overlap_arcsec=60.0)
        opened.create_table("sky.Object", TableSpec("director", columns, id_column="id",
                                                    ra_column="ra", dec_column="decl"))
        opened.ingest("sky.Object", [pa.table({
            "id": IDS, "ra": RA, "decl": DEC, "mag": pa.array(DATA["mag"], pa.float64()),
            "name": DATA["name"]})])
        yield opened


@pytest.mark.parametrize("feature", sorted(FEATURE_CASES), ids=lambda feature: feature[1])
def test_declared_feature_works(engine, feature):
    query, expected = FEATURE_CASES[feature]
    result = engine.query(query, lang="adql").to_pylist()
    if isinstance(expected, tuple):
        assert [row["id"] for row in result] == expected[1]
    elif isinstance(expected, dict):
        answer = {row.pop("id"): tuple(row.values()) for row in result}
        assert answer.keys() == expected.keys()
        for key, value in expected.items():
            value = value if isinstance(value, tuple) else (value,)
            assert answer[key] == tuple(pytest.approx(item, abs=1e-9) if isinstance(item, float)
                                        else item for item in value), key
    else:
        found = [row["id"] for row in result]
        assert sorted(found) == expected and len(found) == len(set(found))
        assert expected, "the check is vacuous: no row qualifies"

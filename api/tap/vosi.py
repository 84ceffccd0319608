"""VOSI documents of the TAP service (VOSI 1.1, TAPRegExt 1.0, VODataService 1.2): capabilities,
availability and tables, as bytes of UTF-8 XML. Pure functions: the routes feed them the base
URL, the settings and the TAP_SCHEMA contents (``qserv.meta.tap_schema.tap_schema_tables``), so
/tables always says what TAP_SCHEMA says.

The ADQL language features declared in :data:`LANGUAGE_FEATURES` are exactly those that
tests/api/test_vosi.py runs against an instance on both backends (a declared feature without a
working query there fails the test). Not declared because the engine refuses them: REGION, AREA,
CENTROID, COORDSYS, IN_UNIT, geometries as result values, and CONTAINS/INTERSECTS between two
regions. The bitwise operators are not declared either (not checked), nor COALESCE, which works
but whose feature type (#features-adql-conditional) the STILTS taplint of Debian (3.4.7) rejects
as unknown. Output and upload limits are in "row" (TAPRegExt allows "row" or "byte").
"""

import re
from xml.sax.saxutils import escape, quoteattr

from qserv.errors import NotFoundError

VOSI_CAPABILITIES = "http://www.ivoa.net/xml/VOSICapabilities/v1.0"
VOSI_AVAILABILITY = "http://www.ivoa.net/xml/VOSIAvailability/v1.0"
VOSI_TABLES = "http://www.ivoa.net/xml/VOSITables/v1.0"
VORESOURCE = "http://www.ivoa.net/xml/VOResource/v1.0"
VODATASERVICE = "http://www.ivoa.net/xml/VODataService/v1.1"  # also the namespace of VODataService 1.2
TAPREGEXT = "http://www.ivoa.net/xml/TAPRegExt/v1.0"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

TAP_STANDARD = "ivo://ivoa.net/std/TAP"
FEATURES = "ivo://ivoa.net/std/TAPRegExt#"

# (feature type, [(form, description or None)]): the ADQL 2.1 optional features that work.
LANGUAGE_FEATURES = (
    (FEATURES + "features-adqlgeo", [
        ("POINT", "as an argument of CONTAINS, INTERSECTS, DISTANCE, COORD1 and COORD2 (not as a "
                  "result column); an optional coordinate system must be 'ICRS' or ''"),
        ("CIRCLE", "as an argument of CONTAINS and INTERSECTS"),
        ("BOX", "BOX(ra, dec, width, height) as an RA/Dec box: RA in ra +- width/2, Dec in "
                "dec +- height/2 (ADQL's great-circle box differs away from the equator)"),
        ("POLYGON", "great-circle edges; the smaller of the two areas they bound"),
        ("CONTAINS", "CONTAINS(POINT, CIRCLE|BOX|POLYGON): a point inside a region"),
        ("INTERSECTS", "INTERSECTS of a POINT and a CIRCLE, BOX or POLYGON (either order, as "
                       "CONTAINS); not between two regions"),
        ("DISTANCE", "DISTANCE(POINT, POINT) or DISTANCE(ra1, dec1, ra2, dec2), in degrees"),
        ("COORD1", None),
        ("COORD2", None),
    ]),
    (FEATURES + "features-adql-string", [
        ("LOWER", None),
        ("UPPER", None),
        ("ILIKE", "case-insensitive LIKE"),
    ]),
    (FEATURES + "features-adql-type", [
        ("CAST", "CAST(x AS type) to the ADQL numeric and character types"),
    ]),
    (FEATURES + "features-adql-sets", [
        ("UNION", None),
        ("EXCEPT", None),
        ("INTERSECT", None),
    ]),
    (FEATURES + "features-adql-common-table", [
        ("WITH", None),
    ]),
    (FEATURES + "features-adql-offset", [
        ("OFFSET", None),
    ]),
)

# (MIME type, aliases, ivo-id or None) of the RESPONSEFORMATs the service writes.
OUTPUT_FORMATS = (
    ("application/x-votable+xml", ("votable",), FEATURES + "output-votable-binary2"),
    ("application/x-votable+xml;serialization=TABLEDATA", ("votable/td",),
     FEATURES + "output-votable-td"),
    ("text/csv", ("csv",), None),
    ("text/tab-separated-values", ("tsv",), None),
    ("application/fits", ("fits",), None),
    ("application/vnd.apache.parquet", ("parquet",), None),
)

UPLOAD_METHODS = tuple(FEATURES + name for name in ("upload-inline", "upload-http", "upload-https"))

# XML 1.0 forbids most control characters even when escaped; they are dropped from text.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class _Writer:
    """A small indenting XML writer; every text and attribute value is escaped."""

    def __init__(self):
        self.lines = ['<?xml version="1.0" encoding="UTF-8"?>']
        self.depth = 0

    @staticmethod
    def _start(name, attrs):
        parts = [name] + [f"{key}={quoteattr(_clean(value))}" for key, value in attrs
                          if value is not None]
        return " ".join(parts)

    def open(self, name, *attrs):
        self.lines.append("  " * self.depth + f"<{self._start(name, attrs)}>")
        self.depth += 1

    def close(self, name):
        self.depth -= 1
        self.lines.append("  " * self.depth + f"</{name}>")

    def leaf(self, name, text=None, *attrs):
        """``<name attrs>text</name>``; nothing when ``text`` is None and there are no attrs."""
        start = self._start(name, attrs)
        if text is None:
            if any(value is not None for _, value in attrs):
                self.lines.append("  " * self.depth + f"<{start}/>")
            return
        self.lines.append("  " * self.depth + f"<{start}>{escape(_clean(text))}</{name}>")

    def bytes(self):
        return ("\n".join(self.lines) + "\n").encode("utf-8")


def _clean(value):
    return _NOT_XML.sub("", str(value))


def _schema_location(*namespaces):
    return " ".join(f"{namespace} {namespace}" for namespace in namespaces)


# -- capabilities ----------------------------------------------------------------------------------

def capabilities_xml(base_url, settings, data_models=()):
    """The VOSI capabilities document of the TAP service at ``base_url`` (no trailing slash):
    the TAP capability with its TAPRegExt details and limits from ``settings`` (the integer
    settings of qserv.settings) and the ``data_models`` [(name, ivo-id)] it serves (ObsCore when
    ivoa.ObsCore exists), then the VOSI capabilities, availability and tables endpoints."""
    base_url = base_url.rstrip("/")
    out = _Writer()
    out.open("vosi:capabilities",
             ("xmlns:vosi", VOSI_CAPABILITIES), ("xmlns:vr", VORESOURCE),
             ("xmlns:vs", VODATASERVICE), ("xmlns:tr", TAPREGEXT), ("xmlns:xsi", XSI),
             ("xsi:schemaLocation",
              _schema_location(VOSI_CAPABILITIES, VORESOURCE, VODATASERVICE, TAPREGEXT)))
    _tap_capability(out, base_url, settings, data_models)
    for standard, path in (("ivo://ivoa.net/std/VOSI#capabilities", "/capabilities"),
                           ("ivo://ivoa.net/std/VOSI#availability", "/availability"),
                           ("ivo://ivoa.net/std/VOSI#tables-1.1", "/tables")):
        out.open("capability", ("standardID", standard))
        out.open("interface", ("xsi:type", "vs:ParamHTTP"), ("role", "std"))
        out.leaf("accessURL", base_url + path, ("use", "full"))
        out.close("interface")
        out.close("capability")
    out.close("vosi:capabilities")
    return out.bytes()


def _tap_capability(out, base_url, settings, data_models):
    out.open("capability", ("standardID", TAP_STANDARD), ("xsi:type", "tr:TableAccess"))
    out.open("interface", ("xsi:type", "vs:ParamHTTP"), ("role", "std"), ("version", "1.1"))
    out.leaf("accessURL", base_url, ("use", "base"))
    out.close("interface")
    for name, ivo_id in data_models:
        out.leaf("dataModel", name, ("ivo-id", ivo_id))
    out.open("language")
    out.leaf("name", "ADQL")
    out.leaf("version", "2.0", ("ivo-id", "ivo://ivoa.net/std/ADQL#v2.0"))
    out.leaf("version", "2.1", ("ivo-id", "ivo://ivoa.net/std/ADQL#v2.1"))
    out.leaf("description", "ADQL 2.1 (2.0 queries are accepted too), run on the sharded catalog")
    for feature_type, features in LANGUAGE_FEATURES:
        out.open("languageFeatures", ("type", feature_type))
        for form, description in features:
            out.open("feature")
            out.leaf("form", form)
            out.leaf("description", description)
            out.close("feature")
        out.close("languageFeatures")
    out.close("language")
    for mime, aliases, ivo_id in OUTPUT_FORMATS:
        out.open("outputFormat", ("ivo-id", ivo_id))
        out.leaf("mime", mime)
        for alias in aliases:
            out.leaf("alias", alias)
        out.close("outputFormat")
    for method in UPLOAD_METHODS:
        out.leaf("uploadMethod", None, ("ivo-id", method))
    out.open("retentionPeriod")
    out.leaf("default", int(settings["tap_job_lifetime_s"]))
    out.close("retentionPeriod")
    out.open("executionDuration")
    out.leaf("default", int(settings["tap_async_duration_s"]))
    out.leaf("hard", int(settings["query_timeout_s"]))
    out.close("executionDuration")
    out.open("outputLimit")
    out.leaf("default", int(settings["tap_maxrec_default"]), ("unit", "row"))
    out.leaf("hard", int(settings["tap_maxrec_limit"]), ("unit", "row"))
    out.close("outputLimit")
    out.open("uploadLimit")
    out.leaf("hard", int(settings["tap_upload_max_rows"]), ("unit", "row"))
    out.close("uploadLimit")
    out.close("capability")


# -- availability ----------------------------------------------------------------------------------

def availability_xml(available, note=None):
    """The VOSI availability document: ``available`` and an optional human-readable ``note``."""
    out = _Writer()
    out.open("vosi:availability", ("xmlns:vosi", VOSI_AVAILABILITY), ("xmlns:xsi", XSI),
             ("xsi:schemaLocation", _schema_location(VOSI_AVAILABILITY)))
    out.leaf("vosi:available", "true" if available else "false")
    if note:
        out.leaf("vosi:note", note)
    out.close("vosi:availability")
    return out.bytes()


# -- tables ----------------------------------------------------------------------------------------

def tables_xml(tap_schema, detail="max", only_table=None):
    """The VOSI tableset built from ``tap_schema`` (the output of ``tap_schema_tables``): every
    schema and table with its columns and foreign keys; ``detail="min"`` leaves out columns and
    keys. ``only_table`` restricts the tableset to that table (NotFoundError if unknown)."""
    model = _Model(tap_schema)
    wanted = model.table(only_table)["table_name"] if only_table is not None else None
    full = detail != "min"
    out = _Writer()
    out.open("vosi:tableset", ("xmlns:vosi", VOSI_TABLES), ("xmlns:vs", VODATASERVICE),
             ("xmlns:xsi", XSI), ("xsi:schemaLocation", _schema_location(VOSI_TABLES, VODATASERVICE)))
    for schema in model.schemas:
        tables = [table for table in model.tables_of(schema["schema_name"])
                  if wanted is None or table["table_name"] == wanted]
        if wanted is not None and not tables:
            continue
        out.open("schema")
        out.leaf("name", schema["schema_name"])
        out.leaf("description", schema["description"])
        out.leaf("utype", schema["utype"])
        for table in tables:
            out.open("table", ("type", table["table_type"]))
            _table_body(out, model, table, full)
            out.close("table")
        out.close("schema")
    out.close("vosi:tableset")
    return out.bytes()


def table_xml(tap_schema, table_name):
    """The VOSI document of one table (/tables/{name}): a vosi:table with its columns and
    foreign keys. ``table_name`` as in TAP_SCHEMA.tables (delimiting quotes and case may differ
    when that is unambiguous); NotFoundError for an unknown table."""
    model = _Model(tap_schema)
    table = model.table(table_name)
    out = _Writer()
    out.open("vosi:table", ("xmlns:vosi", VOSI_TABLES), ("xmlns:vs", VODATASERVICE),
             ("xmlns:xsi", XSI), ("xsi:schemaLocation", _schema_location(VOSI_TABLES, VODATASERVICE)),
             ("type", table["table_type"]))
    _table_body(out, model, table, True)
    out.close("vosi:table")
    return out.bytes()


def _table_body(out, model, table, full):
    out.leaf("name", table["table_name"])
    out.leaf("description", table["description"])
    out.leaf("utype", table["utype"])
    if not full:
        return
    for column in model.columns_of(table["table_name"]):
        out.open("column", ("std", "true" if column["std"] else None))
        out.leaf("name", column["column_name"])
        out.leaf("description", column["description"])
        out.leaf("unit", column["unit"])
        out.leaf("ucd", column["ucd"])
        out.leaf("utype", column["utype"])
        out.leaf("dataType", column["datatype"], ("xsi:type", "vs:VOTableType"),
                 ("arraysize", column["arraysize"]), ("extendedType", column["xtype"]))
        if column["indexed"]:
            out.leaf("flag", "indexed")
        if column["principal"]:
            out.leaf("flag", "primary")
        out.close("column")
    for key in model.keys_from(table["table_name"]):
        out.open("foreignKey")
        out.leaf("targetTable", key["target_table"])
        for pair in model.key_columns(key["key_id"]):
            out.open("fkColumn")
            out.leaf("fromColumn", pair["from_column"])
            out.leaf("targetColumn", pair["target_column"])
            out.close("fkColumn")
        out.leaf("description", key["description"])
        out.leaf("utype", key["utype"])
        out.close("foreignKey")


def _unquoted(name):
    return ".".join(part.strip('"') for part in name.split("."))


class _Model:
    """The TAP_SCHEMA rows grouped for writing: schemas, tables, columns and keys in order."""

    def __init__(self, tap_schema):
        rows = {name: table.to_pylist() for name, table in tap_schema.items()}
        self.schemas = _sorted(rows["schemas"], "schema_index")
        self.tables = _sorted(rows["tables"], "table_index")
        self._columns, self._keys, self._pairs = {}, {}, {}
        for column in _sorted(rows["columns"], "column_index"):
            self._columns.setdefault(column["table_name"], []).append(column)
        for key in rows["keys"]:
            self._keys.setdefault(key["from_table"], []).append(key)
        for pair in rows["key_columns"]:
            self._pairs.setdefault(pair["key_id"], []).append(pair)

    def tables_of(self, schema_name):
        return [table for table in self.tables if table["schema_name"] == schema_name]

    def columns_of(self, table_name):
        return self._columns.get(table_name, [])

    def keys_from(self, table_name):
        return self._keys.get(table_name, [])

    def key_columns(self, key_id):
        return self._pairs.get(key_id, [])

    def table(self, name):
        """The row of table ``name``: exact, else without delimiting quotes, else ignoring case."""
        for same in (lambda a, b: a == b,
                     lambda a, b: _unquoted(a) == _unquoted(b),
                     lambda a, b: _unquoted(a).lower() == _unquoted(b).lower()):
            found = [table for table in self.tables if same(table["table_name"], name)]
            if len(found) == 1:
                return found[0]
        raise NotFoundError(f"no table {name!r} (see /tables for the table names)")


def _sorted(rows, index):
    """Rows by their TAP_SCHEMA index (nulls last), keeping the given order among equals."""
    return sorted(rows, key=lambda row: (row[index] is None, row[index] or 0))

"""TAP_SCHEMA (TAP 1.1 section 4): the five tables describing every catalog table, and itself.

The contents are generated from the central state on demand, never stored, so they cannot drift
from the catalog. Choices made here (TAP 1.1 leaves them to the service):

- One TAP schema per qserv database; ``table_name`` is qualified (``db.table``), as ADQL uses it.
  TAP_SCHEMA comes last and describes its own five tables, columns and five foreign keys.
- Schema, table and column names are written as ADQL needs them: delimited (``"size"``, ``"dec"``)
  when they are ADQL reserved words or not regular identifiers (:func:`adql_identifier`).
- Column types come from the one type map (``qserv.schema.types.tap_column``), so they equal the
  VOTable FIELDs of query results.
- ``column_index``: the Felis ``tap:column_index`` of the column when the table was created from
  Felis and the column has one, else the column's 1-based position in the table.
- ``principal``: when any column of the table's Felis definition carries ``tap:principal``, that
  value (0 for columns without it, as in Felis). Otherwise 1 for the columns qserv itself relies
  on — the id, position (ra/dec), director key and time/hash partition columns — and 0 for the
  rest; a table with none of these (a replicated table) has all its columns principal.
- ``indexed``: 1 for the columns qserv answers restrictions on without a full scan: a director's
  id column (director index), a child's director key (routed through the same index), the
  position columns (chunking) and the partition column of time/hash tables.
- ``std``: the Felis ``tap:std`` when present, else 0; TAP_SCHEMA's own columns are standard (1).
- Foreign keys: every child table -> its director (``db.Child_to_Director``), plus the Felis
  ``ForeignKey`` constraints whose columns resolve to tables of the same database.
"""

import re

import pyarrow as pa
from sqlalchemy import select

from qserv.meta.catalog import table_columns
from qserv.meta.models import Database
from qserv.schema.columns import Column
from qserv.schema.types import arrow_schema, tap_column

# ADQL reserved words (ADQL 2.0 section 2.1.2: the SQL-92 reserved words plus ADQL's own). Names
# that are reserved words, or that are not ADQL regular identifiers (a leading underscore), are
# written delimited ("size") in TAP_SCHEMA, as TAP 1.1 and validators (taplint) expect.
ADQL_RESERVED = frozenset("""
    ABSOLUTE ACTION ADD ALL ALLOCATE ALTER AND ANY ARE AS ASC ASSERTION AT AUTHORIZATION AVG
    BEGIN BETWEEN BIT BIT_LENGTH BOTH BY CASCADE CASCADED CASE CAST CATALOG CHAR CHARACTER
    CHARACTER_LENGTH CHAR_LENGTH CHECK CLOSE COALESCE COLLATE COLLATION COLUMN COMMIT CONNECT
    CONNECTION CONSTRAINT CONSTRAINTS CONTINUE CONVERT CORRESPONDING COUNT CREATE CROSS CURRENT
    CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER CURSOR DATE DAY DEALLOCATE DEC
    DECIMAL DECLARE DEFAULT DEFERRABLE DEFERRED DELETE DESC DESCRIBE DESCRIPTOR DIAGNOSTICS
    DISCONNECT DISTINCT DOMAIN DOUBLE DROP ELSE END END-EXEC ESCAPE EXCEPT EXCEPTION EXEC
    EXECUTE EXISTS EXTERNAL EXTRACT FALSE FETCH FIRST FLOAT FOR FOREIGN FOUND FROM FULL GET
    GLOBAL GO GOTO GRANT GROUP HAVING HOUR IDENTITY IMMEDIATE IN INDICATOR INITIALLY INNER INPUT
    INSENSITIVE INSERT INT INTEGER INTERSECT INTERVAL INTO IS ISOLATION JOIN KEY LANGUAGE LAST
    LEADING LEFT LEVEL LIKE LOCAL LOWER MATCH MAX MIN MINUTE MODULE MONTH NAMES NATIONAL NATURAL
    NCHAR NEXT NO NOT NULL NULLIF NUMERIC OCTET_LENGTH OF ON ONLY OPEN OPTION OR ORDER OUTER
    OUTPUT OVERLAPS PAD PARTIAL POSITION PRECISION PREPARE PRESERVE PRIMARY PRIOR PRIVILEGES
    PROCEDURE PUBLIC READ REAL REFERENCES RELATIVE RESTRICT REVOKE RIGHT ROLLBACK ROWS SCHEMA
    SCROLL SECOND SECTION SELECT SESSION SESSION_USER SET SIZE SMALLINT SOME SPACE SQL SQLCODE
    SQLERROR SQLSTATE SUBSTRING SUM SYSTEM_USER TABLE TEMPORARY THEN TIME TIMESTAMP
    TIMEZONE_HOUR TIMEZONE_MINUTE TO TRAILING TRANSACTION TRANSLATE TRANSLATION TRIM TRUE UNION
    UNIQUE UNKNOWN UPDATE UPPER USAGE USER USING VALUE VALUES VARCHAR VARYING VIEW WHEN WHENEVER
    WHERE WITH WORK WRITE YEAR ZONE
    ABS ACOS ASIN ATAN ATAN2 CEILING COS DEGREES EXP FLOOR LOG LOG10 MOD PI POWER RADIANS RAND
    ROUND SIN SQRT TAN TOP TRUNCATE AREA BOX CENTROID CIRCLE CONTAINS COORD1 COORD2 COORDSYS
    DISTANCE INTERSECTS POINT POLYGON REGION
""".split())
_REGULAR_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def adql_identifier(name):
    """``name`` as written in ADQL: delimited with double quotes when it is a reserved word or
    not a regular identifier, else as it is."""
    if _REGULAR_IDENTIFIER.match(name) and name.upper() not in ADQL_RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def adql_table_name(schema, table):
    """The qualified table name of TAP_SCHEMA.tables (``schema.table``, parts delimited as needed)."""
    return f"{adql_identifier(schema)}.{adql_identifier(table)}"


TAP_SCHEMA = "TAP_SCHEMA"
TAP_SCHEMA_TABLES = ("schemas", "tables", "columns", "keys", "key_columns")


def _string(name, description, nullable=True):
    return Column(name, "string", nullable=nullable, description=description)


def _int(name, description, nullable=True):
    return Column(name, "int", nullable=nullable, description=description)


TAP_SCHEMA_COLUMNS = {
    "schemas": (
        _string("schema_name", "schema name, for reference to TAP_SCHEMA.schemas", False),
        _string("utype", "lists the utypes of schemas in the tableset"),
        _string("description", "describes schemas in the tableset"),
        _int("schema_index", "recommended sort order when listing schemas"),
    ),
    "tables": (
        _string("schema_name", "the schema name from TAP_SCHEMA.schemas", False),
        _string("table_name", "table name as it should be used in queries", False),
        _string("table_type", "one of: table, view", False),
        _string("utype", "lists the utype of tables in the tableset"),
        _string("description", "describes tables in the tableset"),
        _int("table_index", "recommended sort order when listing tables"),
    ),
    "columns": (
        _string("table_name", "table name from TAP_SCHEMA.tables", False),
        _string("column_name", "column name", False),
        _string("datatype", "VOTable datatype of the column", False),
        _string("arraysize", "VOTable arraysize of the column (null for scalars)"),
        _string("xtype", "VOTable xtype (DALI) of the column"),
        _int("size", "deprecated: the length of sized types (use arraysize)"),
        _string("description", "describes the columns in the tableset"),
        _string("utype", "lists the utypes of columns in the tableset"),
        _string("unit", "unit in VO standard format"),
        _string("ucd", "UCD of column if any"),
        _int("indexed", "an indexed column; 1 means true, 0 means false", False),
        _int("principal", "a principal column; 1 means true, 0 means false", False),
        _int("std", "a standard column; 1 means true, 0 means false", False),
        _int("column_index", "recommended sort order when listing columns of a table"),
    ),
    "keys": (
        _string("key_id", "unique key identifier", False),
        _string("from_table", "fully qualified table name", False),
        _string("target_table", "fully qualified table name", False),
        _string("description", "description of this key"),
        _string("utype", "utype of this key"),
    ),
    "key_columns": (
        _string("key_id", "key identifier from TAP_SCHEMA.keys", False),
        _string("from_column", "key column name in the from_table", False),
        _string("target_column", "key column name in the target_table", False),
    ),
}

_TAP_SCHEMA_DESCRIPTIONS = {
    "schemas": "description of schemas in this tableset",
    "tables": "description of tables in this tableset",
    "columns": "description of columns in this tableset",
    "keys": "description of foreign keys in this tableset",
    "key_columns": "description of foreign key columns in this tableset",
}

# key_id, from table, target table, [(from column, target column)], description
_TAP_SCHEMA_KEYS = (
    ("TAP_SCHEMA.tables_to_schemas", "tables", "schemas", [("schema_name", "schema_name")],
     "the schema a table belongs to"),
    ("TAP_SCHEMA.columns_to_tables", "columns", "tables", [("table_name", "table_name")],
     "the table a column belongs to"),
    ("TAP_SCHEMA.keys_from_tables", "keys", "tables", [("from_table", "table_name")],
     "the table a foreign key starts from"),
    ("TAP_SCHEMA.keys_target_tables", "keys", "tables", [("target_table", "table_name")],
     "the table a foreign key points to"),
    ("TAP_SCHEMA.key_columns_to_keys", "key_columns", "keys", [("key_id", "key_id")],
     "the foreign key a column pair belongs to"),
)


class _Rows:
    """The rows of the five tables, appended in order."""

    def __init__(self):
        self.rows = {name: [] for name in TAP_SCHEMA_TABLES}
        self.key_ids = set()

    def schema(self, name, description, index, utype=None):
        self.rows["schemas"].append({"schema_name": name, "utype": utype, "description": description,
                                     "schema_index": index})

    def table(self, schema, qualified, description, index, utype=None):
        self.rows["tables"].append({"schema_name": schema, "table_name": qualified,
                                    "table_type": "table", "utype": utype,
                                    "description": description, "table_index": index})

    def column(self, qualified, column, *, indexed, principal, std, index, utype=None):
        self.rows["columns"].append({
            "table_name": qualified, "column_name": adql_identifier(column.name),
            **tap_column(column),
            "description": column.description, "utype": utype, "unit": column.unit,
            "ucd": column.ucd, "indexed": int(bool(indexed)), "principal": int(bool(principal)),
            "std": int(bool(std)), "column_index": index})

    def key(self, key_id, from_table, target_table, pairs, description=None, utype=None):
        base, suffix = key_id, 2
        while key_id in self.key_ids:
            key_id, suffix = f"{base}_{suffix}", suffix + 1
        self.key_ids.add(key_id)
        self.rows["keys"].append({"key_id": key_id, "from_table": from_table,
                                  "target_table": target_table, "description": description,
                                  "utype": utype})
        for from_column, target_column in pairs:
            self.rows["key_columns"].append({"key_id": key_id,
                                             "from_column": adql_identifier(from_column),
                                             "target_column": adql_identifier(target_column)})

    def tables(self):
        return {name: _arrow_table(name, rows) for name, rows in self.rows.items()}


def _arrow_table(name, rows):
    schema = arrow_schema(TAP_SCHEMA_COLUMNS[name])
    return pa.Table.from_pylist(rows, schema=schema)


def tap_schema_tables(session, include_unpublished=False):
    """{"schemas"|"tables"|"columns"|"keys"|"key_columns": pyarrow.Table} describing every
    published database (every one with ``include_unpublished``: what admins and the CLI see) and
    its tables, then TAP_SCHEMA itself; each table's schema is exactly
    ``arrow_schema(TAP_SCHEMA_COLUMNS[name])``. Rows come in a deterministic order (databases and
    tables by name, columns in table order, keys by table then key id)."""
    out = _Rows()
    listed = select(Database).order_by(Database.name)
    if not include_unpublished:
        listed = listed.where(Database.published.is_(True))
    databases = session.scalars(listed).all()
    for schema_index, database in enumerate(databases, start=1):
        _describe_database(out, database, schema_index)
    _describe_tap_schema(out, len(databases) + 1)
    return out.tables()


def _describe_database(out, database, schema_index):
    tables = sorted(database.tables, key=lambda table: table.name)
    schema = adql_identifier(database.name)
    out.schema(schema, f"qserv database {database.name}", schema_index)
    for position, table in enumerate(tables, start=1):
        felis = table.felis or {}
        qualified = adql_table_name(database.name, table.name)
        description = table.description or felis.get("description")
        index = _integer(felis.get("tap:table_index"), position)
        out.table(schema, qualified, description, index)
        _describe_columns(out, table, qualified)
    keys = []
    resolver = _FelisColumns(tables)
    for table in tables:
        keys.extend(_table_keys(database.name, table, resolver))
    for key in sorted(keys, key=lambda key: (key[1], key[0])):
        out.key(*key)


def _describe_columns(out, table, qualified):
    felis = {column.get("name"): column for column in (table.felis or {}).get("columns", [])
             if isinstance(column, dict)}
    columns = table_columns(table)
    special = _special_columns(table)
    indexed = _indexed_columns(table)
    felis_principal = any("tap:principal" in column for column in felis.values())
    for position, column in enumerate(columns, start=1):
        annotations = felis.get(column.name, {})
        if felis_principal:
            principal = _integer(annotations.get("tap:principal"), 0)
        else:
            principal = column.name in special or not special
        out.column(qualified, column, indexed=column.name in indexed, principal=principal,
                   std=_integer(annotations.get("tap:std"), 0),
                   index=_integer(annotations.get("tap:column_index"), position),
                   utype=annotations.get("votable:utype"))


def _special_columns(table):
    """Columns qserv relies on for a table (its id, position, director key, partition column)."""
    names = (table.id_column, table.ra_column, table.dec_column, table.director_key,
             table.partition_column)
    return {name for name in names if name}


def _indexed_columns(table):
    names = {table.ra_column, table.dec_column, table.partition_column}
    if table.kind == "director":
        names.add(table.id_column)
    if table.kind == "child":
        names.add(table.director_key)
    return {name for name in names if name}


def _integer(value, default):
    """An integer Felis annotation (booleans count as 0/1), or ``default`` when absent or bad."""
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


class _FelisColumns:
    """Resolves Felis column references ("#Table.column" ids) to (table, column) of a database."""

    def __init__(self, tables):
        self.by_id = {}
        self.columns = {}
        for table in tables:
            names = {data["name"] for data in table.columns}
            self.columns[table.name] = names
            for column in (table.felis or {}).get("columns", []):
                if isinstance(column, dict) and column.get("@id") and column.get("name") in names:
                    self.by_id[column["@id"]] = (table.name, column["name"])

    def resolve(self, reference):
        if not isinstance(reference, str):
            return None
        if reference in self.by_id:
            return self.by_id[reference]
        table, _, column = reference.lstrip("#").partition(".")
        if column in self.columns.get(table, ()):
            return table, column
        return None


def _table_keys(database, table, resolver):
    """(key_id, from table, target table, [(from column, target column)], description) of the
    foreign keys leaving ``table``: its director, then its Felis ForeignKey constraints."""
    qualified = adql_table_name(database, table.name)
    keys, seen = [], set()
    director = table.director
    if table.kind == "child" and director is not None and table.director_key:
        pairs = [(table.director_key, director.id_column)]
        target = adql_table_name(director.database.name, director.name)
        keys.append((f"{database}.{table.name}_to_{director.name}", qualified, target, pairs,
                     f"rows of {table.name} belong to a row of their director {director.name}"))
        seen.add((target, tuple(pairs)))
    for constraint in (table.felis or {}).get("constraints", []) or []:
        if not isinstance(constraint, dict) or constraint.get("@type") != "ForeignKey":
            continue
        sources = [resolver.resolve(ref) for ref in constraint.get("columns") or []]
        targets = [resolver.resolve(ref) for ref in constraint.get("referencedColumns") or []]
        if (not sources or len(sources) != len(targets) or None in sources or None in targets
                or {name for name, _ in sources} != {table.name}
                or len({name for name, _ in targets}) != 1):
            continue  # refers to a table that is not (or not entirely) in this database
        target = adql_table_name(database, targets[0][0])
        pairs = [(source[1], dest[1]) for source, dest in zip(sources, targets)]
        if (target, tuple(pairs)) in seen:
            continue
        seen.add((target, tuple(pairs)))
        name = constraint.get("name") or f"{table.name}_to_{targets[0][0]}"
        keys.append((f"{database}.{name}", qualified, target, pairs, constraint.get("description")))
    return keys


def _describe_tap_schema(out, schema_index):
    out.schema(TAP_SCHEMA, "the TAP_SCHEMA of this service: schemas, tables, columns and foreign "
                           "keys that queries can use", schema_index)
    for position, name in enumerate(TAP_SCHEMA_TABLES, start=1):
        qualified = f"{TAP_SCHEMA}.{name}"
        out.table(TAP_SCHEMA, qualified, _TAP_SCHEMA_DESCRIPTIONS[name], position)
        for index, column in enumerate(TAP_SCHEMA_COLUMNS[name], start=1):
            out.column(qualified, column, indexed=False, principal=True, std=True, index=index)
    for key_id, from_table, target_table, pairs, description in _TAP_SCHEMA_KEYS:
        out.key(key_id, f"{TAP_SCHEMA}.{from_table}", f"{TAP_SCHEMA}.{target_table}", pairs,
                description)

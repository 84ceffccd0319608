"""MySQL's catalog statements of Qserv SQL as queries of TAP_SCHEMA (pure).

``SHOW TABLES [FROM db]`` lists the tables of the database (column ``Tables_in_<db>``);
``SHOW COLUMNS FROM t [FROM db]``, ``DESCRIBE t`` and ``DESC db.t`` list the columns of a table in
order (``Field``, ``Type``: the MySQL type of its datatype). ``DATABASE()`` is the query's default
database; ``qserv.sql.dialects.resolve_identifiers`` replaces it (``CURRENT_SCHEMA`` in the tree)
by the database's name, or NULL without one. Names the user wrote enter the tree as literals.
"""

from sqlglot import exp

from qserv.errors import QuerySyntaxError

# VOTable datatype (TAP_SCHEMA.columns.datatype) -> the MySQL type Qserv's users know
MYSQL_TYPES = (
    ("boolean", "boolean"), ("unsignedByte", "tinyint"), ("short", "smallint"), ("int", "int"),
    ("long", "bigint"), ("float", "float"), ("double", "double"), ("char", "text"),
    ("unicodeChar", "text"),
)
TABLES_ALIAS = "qserv_show_tables"  # meta key: the SELECT whose column is named Tables_in_<db>


def _column(name):
    return exp.column(exp.to_identifier(name, quoted=True))


def _schema(db):
    return exp.Literal.string(db.name) if db is not None else exp.CurrentSchema()


def _show_tables(db):
    name = exp.Substring(this=_column("table_name"),
                         start=exp.Add(this=exp.Length(this=_column("schema_name")), expression=exp.Literal.number(2)))
    select = exp.select(exp.alias_(name, f"Tables_in_{db.name}" if db is not None else "Tables_in_", quoted=True)) \
        .from_(exp.table_("tables", db="TAP_SCHEMA")) \
        .where(exp.EQ(this=_column("schema_name"), expression=_schema(db))) \
        .order_by(_column("table_name"))
    if db is None:
        select.meta[TABLES_ALIAS] = True
    return select


def _show_columns(table, db):
    qualified = exp.Concat(expressions=[_schema(db), exp.Literal.string("."), exp.Literal.string(table.name)])
    mysql_type = exp.Case(
        this=_column("datatype"),
        ifs=[exp.If(this=exp.Literal.string(votable), true=exp.Literal.string(mysql)) for votable, mysql in MYSQL_TYPES],
        default=_column("datatype"))
    matches = exp.EQ(this=exp.Lower(this=_column("table_name")), expression=exp.Lower(this=qualified))
    return exp.select(exp.alias_(_column("column_name"), "Field", quoted=True),
                      exp.alias_(mysql_type, "Type", quoted=True)) \
        .from_(exp.table_("columns", db="TAP_SCHEMA")).where(matches).order_by(_column("column_index"))


def show_as_select(statement):
    """The SELECT answering a ``SHOW TABLES``, ``SHOW COLUMNS`` or ``DESCRIBE`` statement, or None
    for any other statement."""
    if isinstance(statement, exp.Describe):
        table = statement.this
        if not isinstance(table, exp.Table):
            raise QuerySyntaxError("DESCRIBE takes a table name")
        return _show_columns(table.this, table.args.get("db"))
    if not isinstance(statement, exp.Show):
        return None
    kind = statement.name.upper()
    if kind == "TABLES":
        return _show_tables(statement.args.get("db"))
    if kind == "COLUMNS" and statement.args.get("target") is not None:
        return _show_columns(statement.args["target"], statement.args.get("db"))
    raise QuerySyntaxError(f"SHOW {kind} is not supported (SHOW TABLES, SHOW COLUMNS FROM t and "
                           "DESCRIBE t are)")

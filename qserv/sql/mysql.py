"""MySQL semantics of Qserv SQL (``lang="qserv"``), as MariaDB (and so Qserv) evaluates them.

``mysql_semantics(tree, tables)`` rewrites a resolved tree (pure; ``tables``: "db.table" ->
TableInfo, for the column types); ``qserv.sql.emit`` expands the ``QSERV_MYSQL_*`` calls it leaves
into each backend's SQL (``expand``). ADQL queries keep ADQL semantics. The differences:

- ``LIKE`` / ``NOT LIKE`` compare case-insensitively (MySQL's default collation), a number is
  compared as its text, and ``\\`` is the default escape character.
- ``a / b`` of two integers is a DECIMAL with 4 decimals, rounded half away from zero
  (``div_precision_increment``); ``x / 0`` is NULL. Other operands: floating-point division.
- ``a DIV b`` truncates toward zero (also of non-integers: ``7.5 DIV 2`` is 3); ``x DIV 0`` is NULL.
- ``HEX(x)``: upper-case hexadecimal of bytes, of text (its UTF-8 bytes) or of a number (rounded
  to a 64-bit integer, a negative one as its two's complement).
- ``& | ^ ~ << >>`` work on unsigned 64-bit integers: ``-1 & 3`` is 3, ``~0`` and ``-1 | 0`` are
  18446744073709551615, ``-1 >> 60`` is 15, a shift by less than 0 or more than 63 gives 0;
  non-integer operands are rounded first. (PostgreSQL workers return NUMERIC results as float64,
  so there a result above 2**53 arrives rounded.)
"""

from sqlglot import exp

INTEGER_DATATYPES = ("byte", "short", "int", "long")
TWO_64 = 18446744073709551616
_BIT_CALLS = {
    exp.BitwiseAnd: "QSERV_MYSQL_BITAND", exp.BitwiseOr: "QSERV_MYSQL_BITOR",
    exp.BitwiseXor: "QSERV_MYSQL_BITXOR", exp.BitwiseLeftShift: "QSERV_MYSQL_SHL",
    exp.BitwiseRightShift: "QSERV_MYSQL_SHR",
}
CALLS = (*_BIT_CALLS.values(), "QSERV_MYSQL_BITNOT", "QSERV_MYSQL_DIVIDE", "QSERV_MYSQL_HEX")
_INTEGER_OPERATORS = (exp.Add, exp.Sub, exp.Mul, exp.Mod)
_TEXT_FUNCTIONS = (exp.Concat, exp.Lower, exp.Upper, exp.Substring, exp.Trim)


class _Types:
    """The datatypes of the columns a query reads, by qualifier and by name."""

    def __init__(self, tree, tables):
        self.qualified, self.unqualified = {}, {}
        for table in tree.find_all(exp.Table):
            info = tables.get(table.meta.get("qserv_table"))
            if info is None:
                continue
            types = {column.name: column.datatype for column in info.columns}
            self.qualified[table.alias_or_name] = types
            for name, datatype in types.items():
                self.unqualified.setdefault(name, set()).add(datatype)

    def integer(self, node):
        """Whether ``node`` is an integer expression in MySQL (an int literal, an integer column,
        integer arithmetic, DIV, a bit operation)."""
        if isinstance(node, exp.Paren | exp.Neg):
            return self.integer(node.this)
        if isinstance(node, exp.Literal):
            return node.is_int
        if isinstance(node, exp.Column):
            if node.table:
                datatype = self.qualified.get(node.table, {}).get(node.name)
                return datatype in INTEGER_DATATYPES
            found = self.unqualified.get(node.name)
            return bool(found) and found <= set(INTEGER_DATATYPES)
        if isinstance(node, _INTEGER_OPERATORS):
            return self.integer(node.this) and self.integer(node.expression)
        if isinstance(node, exp.IntDiv | exp.Count):
            return True
        return isinstance(node, exp.Anonymous) and node.name in CALLS and \
            node.name not in ("QSERV_MYSQL_DIVIDE", "QSERV_MYSQL_HEX")

    def datatype(self, node):
        """The catalog datatype of a column (None for anything else)."""
        if not isinstance(node, exp.Column):
            return None
        if node.table:
            return self.qualified.get(node.table, {}).get(node.name)
        return next(iter(self.unqualified.get(node.name) or ()), None)

    def text(self, node):
        if isinstance(node, exp.Literal):
            return node.is_string
        return self.datatype(node) in ("char", "string", "unicode", "text")

    def hex_kind(self, node):
        """How HEX reads its argument: "binary" bytes, "text" (its UTF-8 bytes), an "integer" or
        another "number" (rounded)."""
        if isinstance(node, exp.Cast):
            if node.to.is_type(*exp.DataType.TEXT_TYPES):
                return "text"
            return "binary" if node.to.is_type("binary", "varbinary", "blob") else "number"
        if self.datatype(node) == "binary":
            return "binary"
        if self.text(node) or isinstance(node, _TEXT_FUNCTIONS):
            return "text"
        return "integer" if self.integer(node) else "number"


def _call(name, *args):
    return exp.Anonymous(this=name, expressions=list(args))


def _like(node, types):
    escape = None
    if isinstance(node, exp.Escape):
        node, escape = node.this, node.expression
    value = node.this if types.text(node.this) else exp.cast(node.this, "VARCHAR")
    like = exp.ILike(this=value, expression=node.expression, negate=node.args.get("negate"))
    return exp.Escape(this=like, expression=escape if escape is not None else exp.Literal.string("\\"))


def _rewrite(node, types):
    if isinstance(node, exp.Escape) and isinstance(node.this, exp.Like) or \
            isinstance(node, exp.Like) and not isinstance(node.parent, exp.Escape):
        return _like(node, types)
    if isinstance(node, exp.Div) and types.integer(node.this) and types.integer(node.expression):
        return _call("QSERV_MYSQL_DIVIDE", node.this, node.expression)
    if isinstance(node, exp.IntDiv):
        divisor = exp.Nullif(this=node.expression, expression=exp.Literal.number(0))
        if types.integer(node.this) and types.integer(node.expression):
            return exp.cast(exp.IntDiv(this=node.this, expression=divisor), "BIGINT")
        quotient = exp.Div(this=node.this, expression=divisor, typed=False, safe=True)
        return exp.cast(exp.Trunc(this=quotient), "BIGINT")
    if type(node) in _BIT_CALLS:
        return _call(_BIT_CALLS[type(node)], node.this, node.expression)
    if isinstance(node, exp.BitwiseNot):
        return _call("QSERV_MYSQL_BITNOT", node.this)
    if isinstance(node, exp.Hex):
        return _call("QSERV_MYSQL_HEX", node.this, exp.Literal.string(types.hex_kind(node.this)))
    return node


def mysql_semantics(tree, tables):
    """``tree`` (resolved, changed in place and returned) with MySQL's meaning of LIKE, ``/``,
    DIV and the bit operators (children first, so a parent sees its rewritten operands)."""
    types = _Types(tree, tables)
    for node in reversed(list(tree.walk(bfs=False))):
        new = _rewrite(node, types)
        if new is not node:
            if node is tree:
                return new
            node.replace(new)
    return tree


# -- backend SQL of the QSERV_MYSQL_* calls -------------------------------------------------
def _unsigned(x, backend):
    """The unsigned 64-bit value of an integer (a negative one wraps), as HUGEINT / NUMERIC."""
    if backend == "duckdb":
        value = f"CAST({x} AS HUGEINT)"
        return f"(CASE WHEN {value} < 0 THEN {value} + {TWO_64} ELSE {value} END)"
    value = f"round(CAST({x} AS NUMERIC))"
    return f"CAST(CASE WHEN {value} < 0 THEN {value} + {TWO_64} ELSE {value} END AS NUMERIC(20, 0))"


def _signed(u):
    """An unsigned 64-bit value as the BIGINT of the same bits (PostgreSQL's bit operators)."""
    return f"CAST(CASE WHEN {u} >= {TWO_64 // 2} THEN {u} - {TWO_64} ELSE {u} END AS BIGINT)"


def _bitwise(operator, a, b, backend):
    if backend == "duckdb":
        if operator == "#":
            return f"xor({_unsigned(a, backend)}, {_unsigned(b, backend)})"
        return f"({_unsigned(a, backend)} {operator} {_unsigned(b, backend)})"
    both = f"({_signed(_unsigned(a, backend))} {operator} {_signed(_unsigned(b, backend))})"
    return _unsigned(both, backend)


def _shift(a, n, left, backend):
    u = _unsigned(a, backend)
    if backend == "duckdb":
        power = "(CAST(1 AS HUGEINT) << CAST({} AS INTEGER))"
        shifted = f"(({u} % {power.format(f'64 - ({n})')}) * {power.format(n)})" if left else \
            f"({u} // {power.format(n)})"
    else:
        power = "power(CAST(2 AS NUMERIC), {})"
        shifted = f"(mod({u}, {power.format(f'64 - ({n})')}) * {power.format(n)})" if left else \
            f"div({u}, {power.format(n)})"
        shifted = f"CAST({shifted} AS NUMERIC(20, 0))"
    zero = "CAST(0 AS HUGEINT)" if backend == "duckdb" else "CAST(0 AS NUMERIC(20, 0))"
    return f"(CASE WHEN ({n}) BETWEEN 0 AND 63 THEN {shifted} ELSE {zero} END)"


def _divide(a, b, backend):
    """a / b of integers rounded half away from zero to 4 decimals (exact, no floating point):
    q = (2 * 10000 * a + sign(a) * |b|) truncated-divided by 2 * b, then q / 10000."""
    if backend == "duckdb":
        numerator = f"(2 * 10000 * CAST({a} AS HUGEINT) + sign({a}) * abs(CAST({b} AS HUGEINT)))"
        quotient = f"({numerator} // (2 * CAST({b} AS HUGEINT)))"
    else:
        numerator = f"(2 * 10000 * CAST({a} AS NUMERIC) + sign(CAST({a} AS NUMERIC)) * abs(CAST({b} AS NUMERIC)))"
        quotient = f"div({numerator}, 2 * CAST({b} AS NUMERIC))"
    scaled = f"CAST(CAST({quotient} AS DECIMAL(38, 0)) AS DECIMAL(38, 4)) * CAST(0.0001 AS DECIMAL(5, 4))"
    return f"(CASE WHEN ({b}) = 0 THEN NULL ELSE CAST({scaled} AS DECIMAL(38, 4)) END)"


def _hex(x, kind, backend):
    """MySQL's HEX: upper-case hexadecimal of bytes, of text's UTF-8 bytes, or of a number rounded
    to a 64-bit integer (a negative one as its two's complement)."""
    if backend == "duckdb":
        if kind in ("binary", "text"):
            return f"upper(hex({x}))"
        return f"upper(hex(CAST({x} AS BIGINT)))" if kind == "integer" else f"upper(hex(CAST(round({x}) AS BIGINT)))"
    if kind == "binary":
        return f"upper(encode({x}, 'hex'))"
    if kind == "text":
        return f"upper(encode(convert_to({x}, 'UTF8'), 'hex'))"
    value = f"CAST({x} AS BIGINT)" if kind == "integer" else f"CAST(round(CAST({x} AS NUMERIC)) AS BIGINT)"
    return f"upper(pg_catalog.to_hex({value}))"  # (sqlglot would write to_hex as HEX)


def expand(node, backend):
    """The backend expression of a ``QSERV_MYSQL_*`` call (its arguments already emitted)."""
    args = [f"({arg.sql(backend, identify=True)})" for arg in node.expressions]
    name = node.name.upper()
    if name == "QSERV_MYSQL_HEX":
        return exp.maybe_parse(_hex(args[0], node.expressions[1].name, backend), dialect=backend)
    if name == "QSERV_MYSQL_DIVIDE":
        text = _divide(*args, backend)
    elif name == "QSERV_MYSQL_BITNOT":
        text = f"({TWO_64 - 1} - {_unsigned(args[0], backend)})"
    elif name in ("QSERV_MYSQL_SHL", "QSERV_MYSQL_SHR"):
        text = _shift(*args, name == "QSERV_MYSQL_SHL", backend)
    else:
        operator = {"QSERV_MYSQL_BITAND": "&", "QSERV_MYSQL_BITOR": "|", "QSERV_MYSQL_BITXOR": "#"}[name]
        text = _bitwise(operator, *args, backend)
    if name != "QSERV_MYSQL_DIVIDE":  # BIGINT UNSIGNED, as in MySQL
        text = f"CAST({text} AS {'UBIGINT' if backend == 'duckdb' else 'NUMERIC(20, 0)'})"
    return exp.maybe_parse(text, dialect=backend)

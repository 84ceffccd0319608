"""The dialect layer of the query engine (pure, no I/O): text -> normalised tree -> worker SQL.

- ``parse(text, lang)``: ADQL 2.1 (``lang="adql"``) or Qserv's MySQL flavour (``lang="qserv"``)
  to one normalised sqlglot tree (conventions in ``qserv.sql.adql``). Exactly one SELECT, set
  operation or WITH query; anything else is a ``QuerySyntaxError``.
- ``resolve_identifiers(tree, columns_by_table)``: unquoted names take the schema's spelling.
- ``to_sql(tree, backend)`` (``qserv.sql.emit``): the SQL text for a DuckDB or PostgreSQL worker.

Identifier rule: tables keep the column names as the schema spells them (PostgreSQL stores them
quoted, so case is kept) and ``to_sql`` double-quotes every identifier as the tree spells it.
Unquoted names the user writes match the schema case-insensitively; quoted (ADQL delimited) names
must match exactly. Select aliases and table aliases keep their spelling as defined, and
references to them are matched the same way.
"""

import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.optimizer.scope import traverse_scope

from qserv.errors import QuerySyntaxError
from qserv.sql.adql import DIALECTS, normalise
from qserv.sql.allowed_functions import check_functions
from qserv.sql.chunk_columns import resolve_chunk_column
from qserv.sql.emit import to_sql
from qserv.sql.show import TABLES_ALIAS, show_as_select

LANGUAGES = tuple(DIALECTS)
_QUERIES = (exp.Select, exp.Union, exp.Intersect, exp.Except)

__all__ = ["LANGUAGES", "QuerySyntaxError", "parse", "resolve_identifiers", "to_sql"]


def _syntax_error(error):
    details = getattr(error, "errors", None)
    if not details:  # the tokenizer (e.g. an unterminated string) gives no position
        return QuerySyntaxError(f"syntax error: {error}")
    first = details[0]
    description = re.sub(r"<Token token_type: [^,]*, text: ([^,]*),.*?>", r"'\1'", first["description"])
    description = re.sub(r"<class '(?:[\w.]+\.)?(\w+)'>", r"\1", description).split(". Line")[0]
    excerpt = (first.get("start_context", "") + first.get("highlight", ""))[-40:].replace("\n", " ")
    return QuerySyntaxError(
        f"syntax error at line {first['line']}, column {first['col']}: {description} "
        f"(near {excerpt.strip()!r})")


_NOTHING_AFTER_COMMA = {"COMMA", "R_PAREN", "FROM", "WHERE", "SEMICOLON"}


def _check_separators(tokens):
    """sqlglot skips an empty list item (``a,, b``, ``a, FROM``): refuse it with its position."""
    for token, following in zip(tokens, tokens[1:]):
        if token.token_type.name == "COMMA" and following.token_type.name in _NOTHING_AFTER_COMMA:
            raise QuerySyntaxError(
                f"syntax error at line {following.line}, column {following.col}: expected an expression "
                f"after ',' but found {following.text!r}")


# Nesting a query may have: parentheses, CASE ... END and runs of prefix operators (NOT, unary -)
# each count one level. The parser and the planner recurse per level; this bound keeps them far
# from Python's recursion limit (about 40 levels would exhaust it), with room for any real query.
MAX_NESTING = 24
# Depth of the parsed tree, where an AND or OR chain (a AND b AND c ...) counts as deep as its
# deepest term (it is handled without recursion): bounds the recursion of the planner and emitter.
MAX_DEPTH = 120
_OPENING = {"L_PAREN", "CASE"}
_CLOSING = {"R_PAREN", "END"}
_PREFIX = {"NOT", "DASH", "PLUS", "TILDA", "EXCLAMATION"}
_CHAINS = (exp.And, exp.Or)


def _check_nesting(tokens):
    """Refuse a query nested more than MAX_NESTING levels, naming the limit."""
    levels, depth, run = [], 0, 0
    for token in tokens:
        kind = token.token_type.name
        if kind in _OPENING:
            levels.append(depth)
            depth, run = depth + run + 1, 0
        elif kind in _CLOSING:
            depth, run = (levels.pop() if levels else 0), 0
        elif kind in _PREFIX:
            run += 1
        else:
            run = 0
        if depth + run > MAX_NESTING:
            raise QuerySyntaxError(
                f"the query is nested too deeply at line {token.line}, column {token.col}: at most "
                f"{MAX_NESTING} levels of parentheses, CASE and NOT/- operators are allowed")


def _check_depth(tree):
    """Refuse a tree deeper than MAX_DEPTH (measured without recursion)."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise QuerySyntaxError(
                f"the query is nested too deeply: its expression tree is more than {MAX_DEPTH} levels "
                "deep (e.g. too many set operations or nested subqueries)")
        for child in node.iter_expressions():
            chained = isinstance(node, _CHAINS) and type(child) is type(node)
            stack.append((child, depth if chained else depth + 1))


def _check_names_and_limits(tree):
    """Table names of one or two non-empty parts; column names that are names (not ``t.'text'``);
    LIMIT/OFFSET/TOP a non-negative integer."""
    for column in tree.find_all(exp.Column):
        qualifiers = [column.args.get(key) for key in ("table", "db", "catalog")]
        if not isinstance(column.this, (exp.Identifier, exp.Star)) or \
                any(part is not None and not isinstance(part, exp.Identifier) for part in qualifiers):
            raise QuerySyntaxError(f"{column.sql()} is not a column name (quote names with \"...\")")
    for table in tree.find_all(exp.Table):
        parts = [table.args.get(key) for key in ("catalog", "db", "this")]
        names = [part.name if isinstance(part, exp.Expression) else part for part in parts if part is not None]
        named = all(isinstance(part, exp.Identifier) for part in parts[1:] if part is not None)
        if parts[0] is not None or not named or not all(names):
            raise QuerySyntaxError(f"table name {'.'.join(names)!r} is not valid: write TABLE or DATABASE.TABLE")
    for clause in tree.find_all(exp.Limit, exp.Offset, exp.Fetch):
        keyword = {"limit": "TOP/LIMIT", "offset": "OFFSET", "fetch": "FETCH"}[clause.key]
        for value in (clause.args.get("count") if isinstance(clause, exp.Fetch) else clause.expression,
                      clause.args.get("offset") if isinstance(clause, exp.Limit) else None):
            if value is None:
                continue
            if not (isinstance(value, exp.Literal) and value.is_int and 0 <= int(value.name) < 2**63):
                raise QuerySyntaxError(f"{keyword} takes a non-negative integer, got {value.sql()!r}")


def parse(text, lang="adql"):
    """The normalised tree of the one query in ``text``, written in ``lang`` ("adql" or "qserv")."""
    if lang not in DIALECTS:
        raise QuerySyntaxError(f"unknown query language {lang!r} (expected one of {', '.join(LANGUAGES)})")
    if not text or not text.strip():
        raise QuerySyntaxError("the query is empty")
    try:
        tokens = DIALECTS[lang]().tokenize(text)
        _check_nesting(tokens)
        statements = [s for s in sqlglot.parse(text, read=DIALECTS[lang]) if s is not None]
    except (ParseError, TokenError) as error:
        raise _syntax_error(error) from None
    if not statements:
        raise QuerySyntaxError("the query is empty")
    _check_separators(tokens)
    if len(statements) != 1:
        raise QuerySyntaxError(f"exactly one query is allowed, got {len(statements)} statements")
    tree = statements[0]
    if lang == "qserv":  # SHOW TABLES / SHOW COLUMNS / DESCRIBE: a query of TAP_SCHEMA
        tree = show_as_select(tree) or tree
    if not isinstance(tree, _QUERIES):
        construct = tree.key.upper() if not isinstance(tree, exp.Command) else tree.name.upper()
        raise QuerySyntaxError(f"only SELECT queries are allowed, not {construct}")
    if tree.find(exp.Into):
        raise QuerySyntaxError("SELECT ... INTO is not allowed")
    _check_depth(tree)
    check_functions(tree, text)
    if lang == "adql" and tree.find(exp.Hex):
        raise QuerySyntaxError("HEX(...) is not an ADQL function (it is one of Qserv SQL: --lang qserv)")
    _check_names_and_limits(tree)
    return normalise(tree)


class _Names:
    """Case-insensitive lookup of spellings; a quoted identifier must match exactly."""

    def __init__(self, spellings):
        self.spellings = list(spellings)

    def find(self, identifier):
        if identifier.quoted:
            return [s for s in self.spellings if s == identifier.name]
        return [s for s in self.spellings if s.lower() == identifier.name.lower()]


def _table_key(table, tables):
    parts = [p for p in (table.args.get("db"), table.this) if p is not None]
    matches = []
    for key in tables:
        key_parts = key.split(".")
        if len(parts) == 2 and len(key_parts) == 2:
            wanted = zip(parts, key_parts)
        elif len(parts) == 1:
            wanted = [(parts[0], key_parts[-1])]
        else:
            continue
        if all(_Names([spelled]).find(part) for part, spelled in wanted):
            matches.append(key)
    name = ".".join(part.name for part in parts)
    if not matches:
        raise QuerySyntaxError(f"unknown table {name}")
    if len(matches) > 1:
        raise QuerySyntaxError(f"table name {name} is ambiguous: {', '.join(sorted(matches))}")
    return matches[0]


def _quoted(name):
    return exp.to_identifier(name, quoted=True)


def _outputs(source, tables):
    """The column names a source offers, as spelt in the schema or the defining query."""
    if isinstance(source, exp.Table):
        return list(tables[source.meta["qserv_table"]])
    if source.set_operation_scopes:
        return _outputs(source.set_operation_scopes[0], tables)
    names = []
    for projection in source.expression.expressions:
        if isinstance(projection, exp.Star):
            for _, inner in source.selected_sources.values():
                names.extend(_outputs(inner, tables))
        elif isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star):
            sources = source.selected_sources
            for key in _Names(sources).find(projection.args["table"]):
                names.extend(_outputs(sources[key][1], tables))
        else:
            names.append(projection.alias_or_name)
    return names


def _resolve_column(column, scope, tables, kinds=None):
    name = column.this
    qualifier = column.args.get("table")
    for current in _scope_chain(scope):
        sources = current.selected_sources
        if qualifier is not None:
            keys = _Names(sources).find(qualifier)
            if not keys:
                continue
            node = sources[keys[0]][0]
            column.set("table", _quoted(node.meta.get("qserv_qualifier", keys[0])))
            if isinstance(name, exp.Star):
                return
            spellings = _Names(_outputs(sources[keys[0]][1], tables)).find(name)
            if len(spellings) != 1:
                break
            column.set("this", _quoted(spellings[0]))
            return
        found = [(key, spelled) for key, (_, source) in sources.items()
                 for spelled in _Names(_outputs(source, tables)).find(name)]
        if not found and current is scope and column.find_ancestor(exp.Order, exp.Group, exp.Having):
            found = [(None, s) for s in _Names(current.expression.named_selects).find(name)]
        if len(found) > 1 and len({spelled for _, spelled in found}) == 1 and \
                found[0][1].lower() in current.expression.meta.get("qserv_merged", ()):
            found = found[:1]  # the one column of a JOIN ... USING (...) or NATURAL JOIN
        if len(found) > 1:
            raise QuerySyntaxError(f"column name {name.name} is ambiguous")
        if found:
            column.set("this", _quoted(found[0][1]))
            return
    if not resolve_chunk_column(column, _scope_chain(scope), kinds):
        raise QuerySyntaxError(f"unknown column {column.sql()}")


def _merge_joins(scope, tables):
    """Give the columns of a SELECT's ``JOIN ... USING (...)`` the schema's spelling and write each
    ``NATURAL JOIN`` as ``JOIN ... USING`` its common columns; the lower-cased names of the columns
    so merged into one are kept in the SELECT's ``meta["qserv_merged"]``."""
    select = scope.expression
    if not isinstance(select, exp.Select):
        return
    sources = scope.selected_sources
    seen, merged = [], set()
    for item in [select.args.get("from_"), *(select.args.get("joins") or [])]:
        if item is None or item.alias_or_name not in sources:
            continue
        offered = _outputs(sources[item.alias_or_name][1], tables)
        if isinstance(item, exp.Join) and item.method == "NATURAL":
            earlier = {name.lower() for name in seen}
            common = [name for name in offered if name.lower() in earlier]
            if common:
                item.set("method", None)
                item.set("using", [exp.to_identifier(name) for name in common])
        for identifier in (item.args.get("using") or []) if isinstance(item, exp.Join) else ():
            spellings = _Names(offered).find(identifier)
            if len(spellings) != 1:
                raise QuerySyntaxError(f"unknown column {identifier.name} in USING (...)")
            identifier.replace(_quoted(spellings[0]))
            merged.add(spellings[0].lower())
        seen += offered
    select.meta["qserv_merged"] = merged
    if merged and any(isinstance(p, exp.Star) for p in select.expressions):
        _expand_star(select, sources, tables, merged)


def _expand_star(select, sources, tables, merged):
    """``SELECT *`` over merged joins as its columns: each merged column once, first (in the order of
    the first source), then every other column of each source, as MySQL and the SQL standard do."""
    columns, rest = [], []
    for key, (node, source) in sources.items():
        for name in _outputs(source, tables):
            if name.lower() not in merged:
                rest.append(exp.column(_quoted(name), table=_quoted(node.meta.get("qserv_qualifier", key))))
            elif name.lower() not in {column.name.lower() for column in columns}:
                columns.append(exp.column(_quoted(name)))
    projections = []
    for projection in select.expressions:
        projections.extend(columns + rest if isinstance(projection, exp.Star) else [projection])
    select.set("expressions", projections)


def _scope_chain(scope):
    while scope is not None:
        yield scope
        scope = scope.parent


def resolve_identifiers(tree, columns_by_table, default_database=None, qualified_only=False, kinds=None):
    """``tree`` with every table and column reference spelt as in the schema, quoted.

    ``columns_by_table`` maps "db.table" (matching ``db.table`` and ``table``) or "table" (matching
    ``table`` only) to its column names, as the schema spells them; a new tree is returned.
    A table or column that matches nothing, or more than one thing, is a ``QuerySyntaxError``.
    With ``default_database``, an unqualified table name means a table of that database (as
    ``USE db`` does in Qserv); without one, ``qualified_only`` refuses unqualified table names.
    With ``kinds`` ("db.table" -> kind), chunkId / subChunkId read ``qserv.sql.chunk_columns``.
    """
    tree = tree.copy()
    _current_database(tree, default_database)
    scopes = traverse_scope(tree)
    for scope in scopes:
        for key, (node, source) in list(scope.selected_sources.items()):
            if not isinstance(source, exp.Table):
                continue
            if default_database and source.args.get("db") is None:
                source.set("db", exp.to_identifier(default_database))
            elif qualified_only and source.args.get("db") is None:
                raise QuerySyntaxError(
                    f"unknown table {source.name}: qualify it as DATABASE.{source.name} or choose a "
                    "default database (--db)")
            table = _table_key(source, columns_by_table)
            source.meta["qserv_table"] = table
            *db, name = table.split(".")
            source.set("this", _quoted(name))
            if db:
                source.set("db", _quoted(db[0]))
            source.meta["qserv_qualifier"] = source.alias or name
    for scope in scopes:
        _merge_joins(scope, columns_by_table)
    for scope in scopes:
        owner = scope.expression
        for column in list(owner.find_all(exp.Column)):
            unqualified_star = isinstance(column.this, exp.Star) and not column.table
            if unqualified_star or _owner(column, scope) is not owner:
                continue
            _resolve_column(column, scope, columns_by_table, kinds)
    return tree


def _current_database(tree, database):
    """DATABASE() (CURRENT_SCHEMA in the tree) is the default database's name, or NULL."""
    for node in list(tree.find_all(exp.CurrentSchema)):
        node.replace(exp.Literal.string(database) if database else exp.cast(exp.Null(), "VARCHAR"))
    for select in tree.find_all(exp.Select):
        if select.meta.get(TABLES_ALIAS):  # SHOW TABLES: its column is Tables_in_<db>
            select.expressions[0].set("alias", exp.to_identifier(f"Tables_in_{database or ''}", quoted=True))


def _owner(column, scope):
    """The query (SELECT or set operation) a column belongs to."""
    return column.find_ancestor(exp.Select, exp.Union, exp.Intersect, exp.Except)


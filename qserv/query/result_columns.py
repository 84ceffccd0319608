"""Which catalog column each result column of a query is (pure, no I/O).

A result column that is a plain column reference (``o.ra``, ``ra AS x``, ``*``, ``o.*``) carries its
declaration (type, length, unit, UCD, description), so TAP results describe it as TAP_SCHEMA does.
Computed columns, and columns of derived tables and set operations, are described by their values.

An unaliased computed result column is named as the user wrote it (``COUNT(*)``, ``ra + 1``, with
runs of white space as one space), as MySQL and so Qserv name them; an aliased one by its alias and
a column by its catalog name.
"""

import re

from sqlglot import exp
from sqlglot.tokens import TokenType

from qserv.query.conjuncts import identifier_matches
from qserv.query.joins import source_tables, table_key
from qserv.sql.adql import DIALECTS

# Where a select list ends (at parenthesis depth 0).
_LIST_END = {TokenType.FROM, TokenType.WHERE, TokenType.GROUP_BY, TokenType.HAVING, TokenType.ORDER_BY,
             TokenType.LIMIT, TokenType.OFFSET, TokenType.FETCH, TokenType.UNION, TokenType.INTERSECT,
             TokenType.EXCEPT, TokenType.INTO, TokenType.WINDOW, TokenType.QUALIFY, TokenType.SEMICOLON}
_OPENING = {TokenType.L_PAREN, TokenType.L_BRACKET}
_CLOSING = {TokenType.R_PAREN, TokenType.R_BRACKET}


def written_names(text, lang, tree, names):
    """``names`` (the result column names the merge gives, one per field) with the fields of
    unaliased computed select items of ``tree`` renamed to their text in ``text``. Unchanged when
    the outermost select list of the text cannot be matched item for item with the tree's."""
    items = tree.selects if isinstance(tree, exp.Query) else []
    spans = _select_list_texts(text, lang)
    if spans is None or len(spans) != len(items):
        return list(names)
    stars = [i for i, item in enumerate(items) if _is_star(item)]
    widths = [1] * len(items)
    if len(stars) > 1:  # the fields between two stars cannot be told apart
        return list(names)
    if stars:
        widths[stars[0]] = len(names) - (len(items) - 1)
    if sum(widths) != len(names) or min(widths) < 0:
        return list(names)
    renamed, field = list(names), 0
    for item, span, width in zip(items, spans, widths):
        if not isinstance(item, (exp.Alias, exp.Column, exp.Star)):
            renamed[field] = span
        field += width
    return renamed


def _is_star(item):
    return isinstance(item, exp.Star) or (isinstance(item, exp.Column) and isinstance(item.this, exp.Star))


def _select_list_texts(text, lang):
    """The text of each item of the first select list at parenthesis depth 0, or None."""
    try:
        tokens = DIALECTS[lang]().tokenize(text)
    except Exception:  # noqa: BLE001 - the parser has accepted the text; be lenient here
        return None
    depth, start = 0, None
    for index, token in enumerate(tokens):
        if token.token_type in _OPENING:
            depth += 1
        elif token.token_type in _CLOSING:
            depth -= 1
        elif token.token_type == TokenType.SELECT and depth == 0:
            start = index + 1
            break
    if start is None:
        return None
    while start < len(tokens) and tokens[start].token_type in (TokenType.DISTINCT, TokenType.ALL):
        start += 1
    if start + 1 < len(tokens) and tokens[start].token_type == TokenType.TOP:
        start += 2
    items, current, depth = [], [], 0
    for token in tokens[start:]:
        if depth == 0 and (token.token_type in _LIST_END or token.token_type == TokenType.COMMA):
            items.append(current)
            current = []
            if token.token_type != TokenType.COMMA:
                break
            continue
        depth += (token.token_type in _OPENING) - (token.token_type in _CLOSING)
        if depth < 0:
            break
        current.append(token)
    else:
        items.append(current)
    if not all(items):
        return None
    return [re.sub(r"\s+", " ", text[item[0].start:item[-1].end + 1]) for item in items]


def declared_columns(tree, tables):
    """[Column or None] per result column of ``tree`` (resolved), or None when unknown."""
    if not isinstance(tree, exp.Select):
        return None
    sources = source_tables(tree)
    if sources is None:
        return None
    infos = {alias: tables.get(table_key(table)) for alias, table in sources}
    found = []
    for item in tree.expressions:
        target = item.this if isinstance(item, exp.Alias) else item
        if isinstance(target, exp.Star):
            if any(info is None for info in infos.values()):
                return None
            found.extend(column for info in infos.values() for column in info.columns)
        elif isinstance(target, exp.Column) and isinstance(target.this, exp.Star):
            info = _source(infos, target.args.get("table"))
            if info is None:
                return None
            found.extend(info.columns)
        elif isinstance(target, exp.Column):
            found.append(_column(infos, target))
        else:
            found.append(None)
    return found


def _source(infos, qualifier):
    matches = [info for alias, info in infos.items() if qualifier is not None
               and identifier_matches(qualifier, alias)]
    return matches[0] if len(matches) == 1 else None


def _column(infos, column):
    qualifier = column.args.get("table")
    candidates = [info for alias, info in infos.items() if info is not None
                  and (qualifier is None or identifier_matches(qualifier, alias))]
    matches = [c for info in candidates for c in info.columns if identifier_matches(column.this, c.name)]
    return matches[0] if len(matches) == 1 else None

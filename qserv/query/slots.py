"""Slots: places in a rendered worker statement that are filled per statement (the batch's chunk
condition, the rows of inline tables), found by position, never by searching the text.

A slot is a tree node (``slot(key)``) that SQL generation prints as ``\\0key\\0``. After the tree is
rendered once per query, :func:`split` cuts the text at those markers into ``[text, key, text,
key, ..., text]``; a statement is the join of that list with each key replaced by its SQL. User
text cannot forge a marker: the rendered text must hold exactly two NUL characters per slot node,
so a NUL from the query (or from values substituted into it) is refused. Pure.
"""

from sqlglot import exp

from qserv.errors import QuerySyntaxError

NUL = "\x00"


def slot(key):
    """A node printed as the marker of slot ``key`` (letters, digits and ``_``)."""
    return exp.var(f"{NUL}{key}{NUL}")


def is_slot(node):
    return isinstance(node, exp.Var) and node.name.startswith(NUL)


def count(tree):
    """The number of slot nodes in ``tree``."""
    return sum(1 for node in tree.find_all(exp.Var) if is_slot(node))


def split(sql, expected, tree):
    """``sql``, rendered from ``tree`` that held ``expected`` slots, as ``[text, key, text, ...,
    text]``."""
    parts = sql.split(NUL)
    if len(parts) != 2 * expected + 1:
        if any(NUL in node.name for node in tree.find_all(exp.Literal, exp.Identifier)):
            raise QuerySyntaxError("the query contains a NUL character (\\0), which is not allowed")
        raise AssertionError(f"{expected} slots in the tree but {len(parts) // 2} markers in {sql!r}")
    return parts

"""``--where`` data id expressions (pure): parsed with sqlglot and written again as a condition
on the dataset table's dimension columns, from the parse tree only (never the text itself).

Allowed: comparisons (= != <> < <= > >=), IN (...), BETWEEN, AND, OR, NOT and parentheses between
dimension names and literals (integers for integer dimensions, quoted strings for the others)."""

import itertools
import math

import sqlglot
from sqlglot import expressions as exp

from qserv.errors import UserError
from qserv.storage import quote

from qserv.payloads.backbone.model import DIMENSIONS

_COMPARISONS = {exp.EQ: "=", exp.NEQ: "<>", exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<="}


def where_condition(text, dimensions=None):
    """The SQL condition of ``text`` over the dimension columns (``dimensions``: those allowed,
    default all), or None for an empty text."""
    if text is None or not text.strip():
        return None
    try:
        tree = sqlglot.parse_one(text)
    except sqlglot.errors.ParseError as error:
        raise UserError(f"--where {text!r}: {str(error).splitlines()[0]}") from None
    allowed = set(dimensions if dimensions is not None else DIMENSIONS)
    return _Writer(text, allowed).write(tree)


def full_data_ids(text, dimensions, limit=1000):
    """The data ids (dicts over every one of ``dimensions``) ``text`` allows when its top-level AND
    terms pin each dimension with ``=`` or ``IN`` (other terms may narrow further), at most
    ``limit`` of them; else None. Call ``where_condition`` first: it refuses bad text."""
    if text is None or not text.strip():
        return None
    tree = sqlglot.parse_one(text)
    while isinstance(tree, exp.Paren):
        tree = tree.this
    allowed = {d: None for d in dimensions}
    writer = _Writer(text, set(dimensions))
    terms = tree.flatten() if isinstance(tree, exp.And) else [tree]
    for term in terms:
        while isinstance(term, exp.Paren):
            term = term.this
        if isinstance(term, exp.EQ) and isinstance(term.left, exp.Column):
            column, nodes = writer.column(term.left), [term.right]
        elif isinstance(term, exp.In) and term.expressions:
            column, nodes = writer.column(term.this), term.expressions
        else:
            continue
        values = {writer.value(node, column) for node in nodes}
        allowed[column] = values if allowed[column] is None else allowed[column] & values
    if any(v is None for v in allowed.values()):
        return None
    choices = [sorted(allowed[d]) for d in dimensions]
    if math.prod(len(c) for c in choices) > limit:
        return None
    return [dict(zip(dimensions, values)) for values in itertools.product(*choices)]


class _Writer:
    def __init__(self, text, allowed):
        self.text, self.allowed = text, allowed

    def refuse(self, message):
        raise UserError(f"--where {self.text!r}: {message}")

    def write(self, node):
        if isinstance(node, exp.Paren):
            return f"({self.write(node.this)})"
        if isinstance(node, (exp.And, exp.Or)):
            word = "AND" if isinstance(node, exp.And) else "OR"
            return f"({self.write(node.left)} {word} {self.write(node.right)})"
        if isinstance(node, exp.Not):
            return f"(NOT {self.write(node.this)})"
        for kind, operator in _COMPARISONS.items():
            if isinstance(node, kind):
                column, value = self.pair(node.left, node.right)
                return f"{quote(column)} {operator} {self.literal(value, column)}"
        if isinstance(node, exp.In):
            column = self.column(node.this)
            if not node.expressions:
                self.refuse("IN needs a list of values")
            values = ", ".join(self.literal(v, column) for v in node.expressions)
            return f"{quote(column)} IN ({values})"
        if isinstance(node, exp.Between):
            column = self.column(node.this)
            return (f"{quote(column)} BETWEEN {self.literal(node.args['low'], column)} "
                    f"AND {self.literal(node.args['high'], column)}")
        self.refuse(f"{node.sql()!r} is not allowed (comparisons of dimensions with values only)")

    def pair(self, left, right):
        if isinstance(left, exp.Column):
            return self.column(left), right
        if isinstance(right, exp.Column):
            self.refuse("write the dimension on the left of a comparison")
        self.refuse(f"{left.sql()!r} is not a dimension")

    def column(self, node):
        if not isinstance(node, exp.Column) or node.table:
            self.refuse(f"{node.sql()!r} is not a dimension")
        name = node.name
        if name not in DIMENSIONS:
            self.refuse(f"unknown dimension {name!r} (known: {', '.join(DIMENSIONS)})")
        if name not in self.allowed:
            self.refuse(f"{name!r} is not a dimension of this dataset type")
        return name

    def literal(self, node, column):
        value = self.value(node, column)
        return repr(value) if DIMENSIONS[column] == "long" else "'" + value.replace("'", "''") + "'"

    def value(self, node, column):
        """The Python value (int or str) of a literal compared with ``column``."""
        negative = isinstance(node, exp.Neg)
        if negative:
            node = node.this
        if not isinstance(node, exp.Literal):
            self.refuse(f"{node.sql()!r} is not a value")
        if DIMENSIONS[column] == "long":
            if node.is_string:
                self.refuse(f"{column} is an integer dimension, got the string {node.this!r}")
            try:
                value = int(node.this)
            except ValueError:
                self.refuse(f"{column} is an integer dimension, got {node.this}")
            return -value if negative else value
        if not node.is_string or negative:
            self.refuse(f"{column} is a string dimension: quote its value")
        value = node.this
        if any(ord(ch) < 32 for ch in value):
            self.refuse("control characters in a value")
        return value

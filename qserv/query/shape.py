"""The shape of a query text: its tokens with the numeric literals lifted out (pure).

``query_shape(text)`` splits a query into tokens with one regular expression (quoted strings and
identifiers, words, numbers, white space, other characters) and returns a ``Shape``: the text
split at every unsigned numeric literal, and those literals in order. Two queries of one shape
differ only in their numbers, so the plan cache (``qserv.query.plan_cache``) plans a shape once.
String literals and white space stay part of the shape (result column names are written as in
the text). A text with a comment, or a character the expression does not cover, has no shape
(None): it always takes the full path. ``Shape.text(values)`` writes the query again with other
numbers (the probe queries of the plan cache).

The split only has to agree with the SQL tokenizer where the plan cache relies on it, and the
plan cache checks that by planning the query with marked values (see there).
"""

from dataclasses import dataclass
import re

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>[A-Za-z]?'(?:[^']|'')*')
  | (?P<quoted>"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\])
  | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?![A-Za-z0-9_$.]))
  | (?P<comment>--|/\*)
  | (?P<other>[^\sA-Za-z0-9_'"`\[])
""", re.VERBOSE)


@dataclass(frozen=True)
class Shape:
    pieces: tuple  # the text split at the literals (one more piece than literals), white space kept:
    # result column names are written as in the text
    literals: tuple  # the numeric literals, as written

    def text(self, values):
        """The query with ``values`` (texts, one per literal) in place of the literals."""
        out = [self.pieces[0]]
        for value, piece in zip(values, self.pieces[1:]):
            out.append(value)
            out.append(piece)
        return "".join(out)

    @property
    def key(self):
        """What queries of one shape share: the pieces, and which literals are written as
        fractional or exponent numbers (DECIMAL or DOUBLE to SQL) rather than integers."""
        return self.pieces, tuple(any(c in literal for c in ".eE") for literal in self.literals)


def query_shape(text):
    """The Shape of ``text``, or None when it has no shape (a comment, an unknown character)."""
    pieces, literals, current, end = [], [], [], 0
    for match in _TOKEN.finditer(text):
        if match.start() != end or match.lastgroup == "comment":
            return None
        end = match.end()
        kind = match.lastgroup
        if kind == "number":
            pieces.append("".join(current))
            literals.append(match.group())
            current = []
        else:
            current.append(match.group())
    if end != len(text):
        return None
    pieces.append("".join(current))
    return Shape(tuple(pieces), tuple(literals))

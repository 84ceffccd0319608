"""A backend binder's refusal in the query's own words (pure).

DuckDB (the czar types every query) answers a call with operands it cannot take with its internal
operator names and signatures (``'~~(BIGINT, STRING_LITERAL)' ... "~~"(string VARCHAR, pattern
VARCHAR, /) -> BOOLEAN``). ``in_user_words(message, text)`` says it as the user wrote it: the
operator or function, its line and column in ``text``, the types it was given and the types it
takes.
"""

import re

_NO_MATCH = re.compile(r"No function matches the given name and argument types '(?P<name>[^(]+)\((?P<args>.*?)\)'")
_CANDIDATE = re.compile(r'^\s*"?(?P<name>[^"(\s]+)"?\((?P<params>.*)\)\s*->', re.M)
# DuckDB's internal names of operators -> the operator as written in a query
OPERATORS = {
    "~~": "LIKE", "!~~": "NOT LIKE", "~~*": "ILIKE", "!~~*": "NOT ILIKE", "+": "+", "-": "-", "*": "*",
    "/": "/", "//": "DIV", "%": "%", "&": "&", "|": "|", "xor": "^", "<<": "<<", ">>": ">>", "~": "~",
    "||": "||",
}
_TYPE_WORDS = {
    "STRING_LITERAL": "string literal", "INTEGER_LITERAL": "integer literal", "VARCHAR": "text",
    "BIGINT": "integer", "INTEGER": "integer", "SMALLINT": "integer", "TINYINT": "integer",
    "HUGEINT": "integer", "UBIGINT": "integer", "DOUBLE": "number", "FLOAT": "number",
    "DECIMAL": "number", "BOOLEAN": "boolean", "BLOB": "binary", "DATE": "date", "TIMESTAMP": "timestamp",
}


def _type_words(name):
    base = name.split("(")[0].strip()
    return _TYPE_WORDS.get(base, base.lower())


def _position(text, written, operator):
    """('line L, column C', the text the user wrote there) of the first ``written`` (an operator
    with its operands, or a function call's name) in ``text``; None when it is not found."""
    name = r"\s+".join(re.escape(part) for part in written.split())
    name = name if not written[0].isalnum() else rf"(?<![\w$]){name}(?![\w$])"
    operand = r"(?:'[^']*'|[\w.`\"]+)"
    pattern = rf"({operand}\s*)?({name})\s*{operand}" if operator else rf"({name})\s*\([^()]*\)?"
    found = re.search(pattern, text, re.IGNORECASE)
    if found is None:
        return None
    start = found.start(2 if operator else 1)
    line = text.count("\n", 0, start) + 1
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    return f"line {line}, column {column}", found.group(0)


def _signatures(message, name):
    """The parameter type lists of the candidate signatures of ``name`` in ``message``."""
    found = []
    for match in _CANDIDATE.finditer(message):
        if match.group("name") != name:
            continue
        params = [p.strip().split()[-1] for p in match.group("params").split(",") if p.strip() not in ("", "/")]
        found.append(f"({', '.join(_type_words(p) for p in params)})")
    found = list(dict.fromkeys(found))
    return found


def in_user_words(message, text):
    """``message`` (a DuckDB binder error) said in the terms of the query ``text``, or None when it
    is not a refusal this module knows how to say."""
    match = _NO_MATCH.search(message)
    if match is None:
        return None
    name = match.group("name")
    written = OPERATORS.get(name)
    what = f"the operator {written}" if written else f"the function {name}"
    position = _position(text, written or name, written is not None)
    given = [_type_words(arg.strip()) for arg in match.group("args").split(",") if arg.strip()]
    wanted = _signatures(message, name)
    where = f" at {position[0]} ({position[1]})" if position else ""
    takes = f"; it takes {' or '.join(wanted[:4])}" if wanted else ""
    cast = " (convert an operand with CAST(... AS type))" if wanted else ""
    return f"{what}{where} cannot be applied to ({', '.join(given)}){takes}{cast}"

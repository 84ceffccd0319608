"""Helpers shared by the planner rules that read a SELECT's WHERE clause (pure)."""

from sqlglot import exp


def top_level_conjuncts(node):
    """The AND-ed terms of a condition (parentheses flattened), left to right; nothing under OR
    or NOT. Iterative: a chain of thousands of ANDs is a tree as deep."""
    stack = [node]
    while stack:
        node = stack.pop()
        if isinstance(node, exp.Paren):
            stack.append(node.this)
        elif isinstance(node, exp.And):
            stack += [node.expression, node.this]
        else:
            yield node


def identifier_matches(identifier, name):
    """A quoted identifier matches exactly, an unquoted one case-insensitively."""
    return identifier.name == name if identifier.quoted else identifier.name.lower() == name.lower()


def keys_of_from_tables(select, mapping):
    """The entries of ``mapping`` (table name or alias -> anything) naming a real table of the
    SELECT's FROM clause or joins (not a derived table)."""
    sources = [select.args.get("from_")] + list(select.args.get("joins") or [])
    tables = [s.this for s in sources if s is not None and isinstance(s.this, exp.Table)]
    return {key: value for key, value in mapping.items()
            if any(table.alias_or_name == key for table in tables)}

"""The kinds of table (a constant apart from ``qserv.meta.admin``, so the CLI can offer them
without importing SQLAlchemy)."""

KINDS = ("director", "child", "match", "replicated", "time", "hash")

"""Topic names (``lsst.sal.MTMount.azimuth``) and the table names that hold them (pure).

A topic's table is ``topic_`` followed by the topic name with every character that is not a letter,
digit or underscore replaced by ``_``, cut to the 63 characters a name may have; when two topics
map to the same name, the later one gets ``_2``, ``_3``... The mapping is kept in the table
``efd_topics`` of the EFD database, so the topic name as given in a configuration always finds its
table."""

import re

from qserv.errors import UserError

PREFIX = "topic_"
MAX_NAME = 63
_INVALID = re.compile(r"[^A-Za-z0-9_]")
_TOPIC = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,199}$")


def check_topic(topic):
    if not isinstance(topic, str) or not _TOPIC.match(topic):
        raise UserError(f"invalid topic name {topic!r}: letters, digits, '_', '.' and '-', starting with "
                        "a letter or underscore, at most 200 characters")
    return topic


def table_name(topic, taken):
    """A table name for ``topic`` not among ``taken`` (the lower-cased names already used)."""
    base = (PREFIX + _INVALID.sub("_", check_topic(topic)))[:MAX_NAME]
    name, suffix = base, 1
    while name.lower() in taken:
        suffix += 1
        name = f"{base[:MAX_NAME - len(str(suffix)) - 1]}_{suffix}"
    return name

"""Column definitions shared by schemas, ingest, workers and the TAP service.

A column's ``datatype`` is one of Felis's datatype names (``DATATYPES``); every backend type is
derived from it through the one type map in ``qserv.schema.types``.
"""

from dataclasses import asdict, dataclass
import json
import re

from qserv.errors import UserError

DATATYPES = (
    "boolean", "byte", "short", "int", "long", "float", "double",
    "char", "string", "unicode", "text", "binary", "timestamp",
)
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
# Columns qserv adds to every stored row; user columns must not start with "_qserv".
SYSTEM_PREFIX = "_qserv"
# Arrow field metadata key under which a query result carries the declared Column of a result
# column that is a plain catalog column (JSON of Column.to_dict()); formats read it back with
# column_of_field to write the declared types, units and UCDs.
FIELD_METADATA_KEY = b"qserv.column"


class SchemaError(UserError, ValueError):
    """A table or column definition is invalid."""


def check_identifier(name, what):
    """Database, table and column names: letters, digits, underscores; at most 63 characters."""
    if not isinstance(name, str) or not IDENTIFIER.match(name):
        raise SchemaError(
            f"invalid {what} name {name!r}: use letters, digits and underscores, starting with a "
            f"letter or underscore, at most 63 characters"
        )
    return name


@dataclass(frozen=True)
class Column:
    """One column of a user table, with the metadata the TAP service publishes."""

    name: str
    datatype: str
    nullable: bool = True
    length: int | None = None
    unit: str | None = None
    ucd: str | None = None
    description: str | None = None
    utype: str | None = None  # a data model's utype (ObsCore columns), written in result FIELDs

    def __post_init__(self):
        check_identifier(self.name, "column")
        if self.name.lower().startswith(SYSTEM_PREFIX):
            raise SchemaError(f"column name {self.name!r} is reserved (prefix {SYSTEM_PREFIX!r})")
        if self.datatype not in DATATYPES:
            raise SchemaError(
                f"column {self.name!r}: unknown datatype {self.datatype!r} "
                f"(expected one of {', '.join(DATATYPES)})"
            )

    def to_dict(self):
        return {key: value for key, value in asdict(self).items() if value is not None}

    @classmethod
    def from_dict(cls, data):
        return cls(**data)


def field_with_column(field, column):
    """``field`` (a pyarrow.Field) carrying ``column``'s declaration in its metadata."""
    return field.with_metadata({**(field.metadata or {}), FIELD_METADATA_KEY: json.dumps(column.to_dict())})


def column_of_field(field):
    """The Column declared for a pyarrow.Field by :func:`field_with_column`, or None."""
    text = (field.metadata or {}).get(FIELD_METADATA_KEY)
    return Column.from_dict(json.loads(text)) if text else None

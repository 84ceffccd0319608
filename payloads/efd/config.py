"""The transform configuration (YAML, in the spirit of ConsDB's transformed EFD), validated with
errors naming the entry (pure apart from reading the file).

    version: 1
    columns:
      - name: mount_az            # column name; several fields give <name>_<field> columns
        tables: [exposure_efd, exposure_efd_unpivoted]
        function: mean            # mean stddev min max most_recent_value rms_from_polynomial_fit
        function_args: {}         # rms_from_polynomial_fit: {degree: N}
        topic: lsst.sal.MTMount.azimuth
        fields: [actualPosition]
        subset: {salIndex: 1}     # optional: only samples whose columns have these values
        start_offset_s: 0         # optional: the window starts this much after obs_start
        pre_aggregate_interval_s: 5   # optional: average samples in bins of this length first
        datatype: double
        unit: deg
        ucd: pos.az               # optional
        description: mean azimuth during the exposure
"""

from dataclasses import dataclass
from pathlib import Path

from qserv.errors import UserError
from qserv.schema.columns import IDENTIFIER, SYSTEM_PREFIX

from qserv.payloads.efd.tables import KEY_COLUMNS, OUTPUT_TABLES

FUNCTIONS = {"mean": (), "stddev": (), "min": (), "max": (), "most_recent_value": (),
             "rms_from_polynomial_fit": ("degree",)}
DATATYPES = ("double", "float", "int", "long", "short")
REQUIRED = ("name", "tables", "function", "topic", "fields", "datatype", "unit", "description")
OPTIONAL = ("ucd", "subset", "function_args", "start_offset_s", "pre_aggregate_interval_s")
MAX_DEGREE = 5


@dataclass(frozen=True)
class Entry:
    name: str
    tables: tuple
    function: str
    topic: str
    fields: tuple
    datatype: str
    unit: str
    description: str
    ucd: str | None = None
    subset: tuple = ()              # ((column, value), ...) sorted
    degree: int | None = None
    start_offset_s: float = 0.0
    pre_aggregate_interval_s: float | None = None

    def column(self, field):
        """The output column of ``field``: the entry's name, or ``<name>_<field>`` when it has
        several fields."""
        return self.name if len(self.fields) == 1 else f"{self.name}_{field}"


@dataclass(frozen=True)
class OutputColumn:
    column: str
    entry: Entry
    field: str
    datatype: str
    unit: str
    ucd: str | None
    description: str


@dataclass(frozen=True)
class Config:
    version: object
    entries: tuple

    def outputs(self, table):
        return [OutputColumn(e.column(f), e, f, e.datatype, e.unit, e.ucd,
                             e.description if len(e.fields) == 1 else f"{e.description} ({f})")
                for e in self.entries if table in e.tables for f in e.fields]


def load_config(path):
    """The Config of a YAML file (syntax and entries checked; topics are checked by ``check_topics``)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise UserError(f"no such configuration file: {path}")
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise UserError(f"{path}: not valid YAML: {error}") from None
    return parse_config(document, str(path))


def parse_config(document, where="configuration"):
    if not isinstance(document, dict) or "columns" not in document:
        raise UserError(f"{where}: expected a mapping with 'version' and 'columns'")
    unknown = sorted(set(document) - {"version", "columns"})
    if unknown:
        raise UserError(f"{where}: unknown keys {', '.join(unknown)} (expected version, columns)")
    if not isinstance(document["columns"], list) or not document["columns"]:
        raise UserError(f"{where}: 'columns' must be a non-empty list")
    entries = tuple(_entry(item, f"{where}, columns[{i}]") for i, item in enumerate(document["columns"]))
    seen = {c.name.lower() for c in KEY_COLUMNS}
    for entry in entries:
        for field in entry.fields:
            column = entry.column(field)
            if column.lower() in seen:
                raise UserError(f"{where}, entry {entry.name!r}: output column {column!r} is repeated")
            seen.add(column.lower())
    return Config(document.get("version"), entries)


def _entry(item, where):
    if not isinstance(item, dict):
        raise UserError(f"{where}: expected a mapping")
    if isinstance(item.get("name"), str):
        where = f"{where} (name {item['name']!r})"
    missing = [key for key in REQUIRED if key not in item]
    if missing:
        raise UserError(f"{where}: missing {', '.join(missing)}")
    unknown = sorted(set(item) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise UserError(f"{where}: unknown keys {', '.join(unknown)}")
    name = _identifier(item["name"], where, "name")
    function = item["function"]
    if function not in FUNCTIONS:
        raise UserError(f"{where}: unknown function {function!r} (expected one of {', '.join(FUNCTIONS)})")
    tables = item["tables"]
    if isinstance(tables, str):
        tables = [tables]
    if not isinstance(tables, list) or not tables or any(t not in OUTPUT_TABLES for t in tables):
        raise UserError(f"{where}: tables must list some of {', '.join(OUTPUT_TABLES)}, got {item['tables']!r}")
    fields = item["fields"]
    if not isinstance(fields, list) or not fields:
        raise UserError(f"{where}: fields must be a non-empty list")
    fields = tuple(_identifier(f, where, "field") for f in fields)
    if len(set(fields)) != len(fields):
        raise UserError(f"{where}: fields repeated")
    if item["datatype"] not in DATATYPES:
        raise UserError(f"{where}: datatype {item['datatype']!r} (expected one of {', '.join(DATATYPES)})")
    for key in ("topic", "unit", "description"):
        if not isinstance(item[key], str):
            raise UserError(f"{where}: {key} must be text")
    return Entry(name=name, tables=tuple(dict.fromkeys(tables)), function=function, topic=item["topic"],
                 fields=fields, datatype=item["datatype"], unit=item["unit"], description=item["description"],
                 ucd=item.get("ucd"), subset=_subset(item.get("subset"), where),
                 degree=_degree(function, item.get("function_args"), where),
                 start_offset_s=_number(item.get("start_offset_s", 0.0), where, "start_offset_s"),
                 pre_aggregate_interval_s=_interval(item.get("pre_aggregate_interval_s"), function, where))


def _identifier(value, where, what):
    if not isinstance(value, str) or not IDENTIFIER.match(value) or value.lower().startswith(SYSTEM_PREFIX):
        raise UserError(f"{where}: invalid {what} {value!r} (letters, digits, underscores)")
    return value


def _subset(subset, where):
    if subset is None:
        return ()
    if not isinstance(subset, dict) or not subset:
        raise UserError(f"{where}: subset must be a mapping such as {{salIndex: 1}}")
    for key, value in subset.items():
        _identifier(key, where, "subset field")
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise UserError(f"{where}: subset value of {key!r} must be a number or text, got {value!r}")
    return tuple(sorted(subset.items()))


def _degree(function, args, where):
    args = {} if args is None else args
    if not isinstance(args, dict):
        raise UserError(f"{where}: function_args must be a mapping")
    unknown = sorted(set(args) - set(FUNCTIONS[function]))
    if unknown:
        raise UserError(f"{where}: function {function} takes no argument {', '.join(unknown)}")
    if function != "rms_from_polynomial_fit":
        return None
    degree = args.get("degree")
    if isinstance(degree, bool) or not isinstance(degree, int) or not 0 <= degree <= MAX_DEGREE:
        raise UserError(f"{where}: rms_from_polynomial_fit needs function_args degree, an integer "
                        f"0..{MAX_DEGREE}, got {degree!r}")
    return degree


def _number(value, where, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserError(f"{where}: {what} must be a number, got {value!r}")
    return float(value)


def _interval(value, function, where):
    if value is None:
        return None
    value = _number(value, where, "pre_aggregate_interval_s")
    if value <= 0:
        raise UserError(f"{where}: pre_aggregate_interval_s must be > 0, got {value}")
    if function == "most_recent_value":
        raise UserError(f"{where}: most_recent_value takes no pre_aggregate_interval_s")
    return value


def check_topics(config, topic_columns):
    """Refuse entries whose topic is unknown or whose fields or subset columns are not columns of
    the topic's table (``topic_columns``: topic -> {column name: datatype})."""
    for entry in config.entries:
        where = f"entry {entry.name!r}"
        columns = topic_columns.get(entry.topic)
        if columns is None:
            raise UserError(f"{where}: unknown topic {entry.topic!r} (ingest it first with qserv efd ingest)")
        for field in entry.fields:
            if field not in columns:
                raise UserError(f"{where}: topic {entry.topic!r} has no field {field!r} "
                                f"(it has {', '.join(sorted(columns))})")
            if columns[field] not in ("byte", "short", "int", "long", "float", "double", "boolean"):
                raise UserError(f"{where}: field {field!r} is {columns[field]}, not numeric")
        for key, _ in entry.subset:
            if key not in columns:
                raise UserError(f"{where}: subset names {key!r}, which topic {entry.topic!r} does not have")
    return config

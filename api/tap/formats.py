"""TAP output formats: RESPONSEFORMAT values (short names or MIME types) and writing a result."""

from dataclasses import dataclass

from qserv.formats.votable import VOTABLE_MIME, votable_chunks
from qserv.output import render
from qserv.errors import TapParameterError

BATCH_ROWS = 65_536


@dataclass(frozen=True)
class OutputFormat:
    name: str  # votable | csv | tsv | fits | parquet
    mime: str  # Content-Type of the answer
    serialization: str | None = None  # votable: binary2 | tabledata
    extension: str = ""


VOTABLE = OutputFormat("votable", VOTABLE_MIME, "binary2", "vot")
VOTABLE_TABLEDATA = OutputFormat("votable", f"{VOTABLE_MIME};serialization=TABLEDATA", "tabledata", "vot")
_FORMATS = {
    "votable": VOTABLE,
    "votable/b2": VOTABLE,
    "application/x-votable+xml": VOTABLE,
    "application/x-votable+xml;serialization=binary2": VOTABLE,
    "text/xml": VOTABLE,
    "votable/td": VOTABLE_TABLEDATA,
    "application/x-votable+xml;serialization=tabledata": VOTABLE_TABLEDATA,
    "csv": OutputFormat("csv", "text/csv;header=present", extension="csv"),
    "text/csv": OutputFormat("csv", "text/csv;header=present", extension="csv"),
    "text/csv;header=present": OutputFormat("csv", "text/csv;header=present", extension="csv"),
    "tsv": OutputFormat("tsv", "text/tab-separated-values", extension="tsv"),
    "text/tab-separated-values": OutputFormat("tsv", "text/tab-separated-values", extension="tsv"),
    "fits": OutputFormat("fits", "application/fits", extension="fits"),
    "application/fits": OutputFormat("fits", "application/fits", extension="fits"),
    "parquet": OutputFormat("parquet", "application/vnd.apache.parquet", extension="parquet"),
    "application/vnd.apache.parquet": OutputFormat("parquet", "application/vnd.apache.parquet",
                                                   extension="parquet"),
}
NAMES = ("votable", "votable/td", "csv", "tsv", "fits", "parquet")


def output_format(value):
    """The OutputFormat of a RESPONSEFORMAT value (None: VOTable BINARY2)."""
    if value is None or not value.strip():
        return VOTABLE
    key = "".join(value.split()).lower()
    if key not in _FORMATS:
        raise TapParameterError(f"RESPONSEFORMAT={value} is not supported (use one of {', '.join(NAMES)} "
                                "or their MIME types)")
    return _FORMATS[key]


def result_chunks(table, output, overflow):
    """The bytes of ``table`` in ``output``, as an iterator of pieces (VOTable streams per batch)."""
    if output.name == "votable":
        return votable_chunks(table.schema, table.to_batches(max_chunksize=BATCH_ROWS),
                              serialization=output.serialization, overflow=overflow)
    return iter([render(table, output.name)])

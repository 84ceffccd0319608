"""What the planner knows about a catalog table: a plain value built from the central state."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Partitioning:
    """The sky partitioning of a database (all its spatial tables share it)."""

    chunk_order: int
    subchunk_order: int
    overlap_arcsec: float


@dataclass(frozen=True)
class TableInfo:
    database: str
    name: str
    kind: str  # director | child | match | replicated | time | hash | inline
    columns: tuple  # qserv.schema.columns.Column of the user's columns, in order
    partitioning: Partitioning
    id_column: str | None = None
    ra_column: str | None = None
    dec_column: str | None = None
    director: str | None = None  # "db.table" of a child's director
    director_key: str | None = None
    director_position: bool = False  # a child whose ra/dec are its director's (rows in its chunk)
    director_distance_arcsec: float | None = None  # a child near its director: largest measured distance
    director2: str | None = None  # "db.table" of a match table's second director (``director``: the first)
    director2_key: str | None = None
    partition_column: str | None = None  # time and hash tables
    bucket_days: float | None = None
    bucket_count: int | None = None
    row_deletes: bool = False  # rows may be marked deleted (``_qserv_deleted``; qserv.storage)
    # an inline table's rows (a pyarrow.Table): TAP_SCHEMA and TAP uploads, held by the czar
    rows: object = field(default=None, compare=False, repr=False)

    @property
    def key(self):
        return f"{self.database}.{self.name}"

    @property
    def column_names(self):
        return [column.name for column in self.columns]

    def column(self, name):
        return next(column for column in self.columns if column.name == name)

    @property
    def sharded(self):
        return self.kind not in ("replicated", "inline")

    @property
    def inline(self):
        """Rows held by the czar, not stored on workers (sent along with a worker statement)."""
        return self.kind == "inline"

    @property
    def position(self):
        """(ra column, dec column) when rows are placed by their own position, else None."""
        if self.kind in ("director", "child") and self.ra_column and self.dec_column:
            return self.ra_column, self.dec_column
        return None

    @property
    def placement_key(self):
        """The column whose director row's chunk holds each row: the id of a director, the director
        key of a child without its own position or of a match table (its own copies are in its first
        director's chunks); None for every other table."""
        if self.kind == "director":
            return self.id_column
        if (self.kind == "child" and self.position is None) or self.kind == "match":
            return self.director_key
        return None

    @property
    def family(self):
        """The director whose chunks hold this table's rows by key (``placement_key``), or None."""
        if self.kind == "director":
            return self.key
        if self.placement_key is not None:
            return self.director
        return None

    @property
    def has_overlap(self):
        """Director tables store overlap copies (rows near a chunk, kept with it)."""
        return self.kind == "director" and self.partitioning.overlap_arcsec > 0

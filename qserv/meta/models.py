"""SQLAlchemy models of the central state. Migrations in ``migrations/versions`` must match them
(tests/meta/test_migrations.py checks it)."""

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utc_now():
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Setting(Base):
    """Instance-wide settings (see qserv.settings for names, defaults and help)."""

    __tablename__ = "settings"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Worker(Base):
    __tablename__ = "workers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    backend: Mapped[str] = mapped_column(String(16))  # duckdb | postgres
    location: Mapped[str] = mapped_column(Text)  # DuckDB file path or PostgreSQL DSN
    state: Mapped[str] = mapped_column(String(16), default="active")  # active | disabled


class Database(Base):
    __tablename__ = "databases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    chunk_order: Mapped[int] = mapped_column(Integer)
    subchunk_order: Mapped[int] = mapped_column(Integer)
    overlap_arcsec: Mapped[float] = mapped_column(Float)
    replication: Mapped[int] = mapped_column(Integer, default=1)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    # raised by every change of replicas after a chunk's first placement (qserv.meta.chunk_map)
    placement_version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utc_now)
    tables: Mapped[list["Table"]] = relationship(back_populates="database", order_by="Table.id")


class Table(Base):
    __tablename__ = "tables"
    __table_args__ = (UniqueConstraint("database_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    database_id: Mapped[int] = mapped_column(ForeignKey("databases.id"))
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # director | child | match | replicated | time | hash
    columns: Mapped[list] = mapped_column(JSON)  # list of Column.to_dict()
    id_column: Mapped[str | None] = mapped_column(String(64))
    ra_column: Mapped[str | None] = mapped_column(String(64))
    dec_column: Mapped[str | None] = mapped_column(String(64))
    non_unique: Mapped[bool] = mapped_column(Boolean, default=False)
    director_table_id: Mapped[int | None] = mapped_column(ForeignKey("tables.id"))
    director_key: Mapped[str | None] = mapped_column(String(64))
    # a child whose --ra/--dec are its director's position (Qserv's raObject/declObject): rows whose
    # director exists are in the director's chunk (checked at ingest)
    director_position: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # a child with its own position: the largest distance of a row from its director over the rows
    # whose director exists (qserv.ingest.director_links); a match table: of its two directors' rows;
    # NULL when not known
    director_distance_arcsec: Mapped[float | None] = mapped_column(Float)
    # a match table's second director (the first is ``director``) and the column holding its id
    director2_table_id: Mapped[int | None] = mapped_column(ForeignKey("tables.id"))
    director2_key: Mapped[str | None] = mapped_column(String(64))
    partition_column: Mapped[str | None] = mapped_column(String(64))  # time / hash tables
    bucket_size: Mapped[float | None] = mapped_column(Float)  # days per time bucket
    bucket_count: Mapped[int | None] = mapped_column(Integer)  # hash buckets
    felis: Mapped[dict | None] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(Text)
    # rows may be marked deleted by a transaction (``_qserv_deleted``; ``qserv.ingest.deletes``)
    row_deletes: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    database: Mapped[Database] = relationship(back_populates="tables")
    director: Mapped["Table | None"] = relationship(remote_side="Table.id", foreign_keys=[director_table_id])
    director2: Mapped["Table | None"] = relationship(remote_side="Table.id", foreign_keys=[director2_table_id])


class CatalogChange(Base):
    """A change of the catalog its other versions do not show (``qserv.meta.catalog_changes``)."""

    __tablename__ = "catalog_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utc_now)
    what: Mapped[str] = mapped_column(Text)


class Chunk(Base):
    """Committed row counts of one table in one chunk (overlap copies counted apart)."""

    __tablename__ = "chunks"
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id"), primary_key=True)
    chunk: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    overlap_rows: Mapped[int] = mapped_column(BigInteger, default=0)


class Replica(Base):
    """Chunk placement: all tables of a database keep a chunk on the same workers."""

    __tablename__ = "replicas"
    database_id: Mapped[int] = mapped_column(ForeignKey("databases.id"), primary_key=True)
    chunk: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"), primary_key=True)


class Transaction(Base):
    __tablename__ = "transactions"
    __table_args__ = {"sqlite_autoincrement": True}  # ids never reused (readers hide "every id above N")
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    database_id: Mapped[int] = mapped_column(ForeignKey("databases.id"))
    state: Mapped[str] = mapped_column(String(16), default="open")  # open|committed|aborting|aborted
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utc_now)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    note: Mapped[str | None] = mapped_column(Text)
    # the process that began it (ingest.owners): aborted at the next open once it is gone
    owner_host: Mapped[str | None] = mapped_column(String(255))
    owner_pid: Mapped[int | None] = mapped_column(Integer)
    owner_start: Mapped[int | None] = mapped_column(BigInteger)
    database: Mapped[Database] = relationship()


class Contribution(Base):
    """One file or batch loaded into a transaction; ``key`` makes retries idempotent."""

    __tablename__ = "contributions"
    __table_args__ = (UniqueConstraint("transaction_id", "table_id", "key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("transactions.id"))
    table_id: Mapped[int] = mapped_column(ForeignKey("tables.id"))
    key: Mapped[str] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)
    # loading | loaded | failed | purged (a delete whose rows qserv.ingest.deletes.purge removed)
    state: Mapped[str] = mapped_column(String(16), default="loading")
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    overlap_rows: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utc_now)


class ContributionChunk(Base):
    """Rows a contribution wrote per chunk; summed into ``chunks`` when its transaction commits."""

    __tablename__ = "contribution_chunks"
    contribution_id: Mapped[int] = mapped_column(ForeignKey("contributions.id"), primary_key=True)
    chunk: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    overlap_rows: Mapped[int] = mapped_column(BigInteger, default=0)


class QueryRecord(Base):
    """One query in the query log (DMS-REQ-0345); written by qserv.meta.query_log."""

    __tablename__ = "query_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    lang: Mapped[str] = mapped_column(String(16))  # adql | qserv
    database: Mapped[str | None] = mapped_column(String(64))  # default database of the query
    user: Mapped[str | None] = mapped_column(String(64))
    submitted_at: Mapped[datetime] = mapped_column(DateTime, default=utc_now, index=True)
    duration_s: Mapped[float | None] = mapped_column(Float)
    rows: Mapped[int | None] = mapped_column(BigInteger)
    chunks: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="running")  # running|ok|error|cancelled
    error: Mapped[str | None] = mapped_column(Text)
    # fingerprint (qserv.fingerprint): the visibility it read ({"newest": id, "pending": [ids]}),
    # the snapshot it was pinned to, the result's [[name, type], ...], its row checksum, and seconds
    # spent planning, waiting for the workers and merging
    visibility: Mapped[dict | None] = mapped_column(JSON)
    as_of: Mapped[str | None] = mapped_column(String(64))
    result_columns: Mapped[list | None] = mapped_column(JSON)
    checksum: Mapped[str | None] = mapped_column(String(16))
    plan_s: Mapped[float | None] = mapped_column(Float)
    workers_s: Mapped[float | None] = mapped_column(Float)
    merge_s: Mapped[float | None] = mapped_column(Float)


class TapJob(Base):
    """One TAP async job (UWS 1.1); written by qserv.meta.tap_jobs. Results live in files."""

    __tablename__ = "tap_jobs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)  # user name, "anonymous" without a token
    run_id: Mapped[str | None] = mapped_column(Text)
    phase: Mapped[str] = mapped_column(String(16), default="PENDING")
    parameters: Mapped[dict] = mapped_column(JSON)  # lower-cased names -> string values
    creation_time: Mapped[datetime] = mapped_column(DateTime, default=utc_now)
    start_time: Mapped[datetime | None] = mapped_column(DateTime)
    end_time: Mapped[datetime | None] = mapped_column(DateTime)
    execution_duration_s: Mapped[int] = mapped_column(Integer)  # always > 0
    destruction_time: Mapped[datetime] = mapped_column(DateTime, index=True)
    error_message: Mapped[str | None] = mapped_column(Text)
    result_path: Mapped[str | None] = mapped_column(Text)
    result_mime: Mapped[str | None] = mapped_column(String(128))
    result_rows: Mapped[int | None] = mapped_column(BigInteger)
    overflow: Mapped[bool] = mapped_column(Boolean, default=False)
    query_id: Mapped[int | None] = mapped_column(Integer)  # query_log id of the job's query


class User(Base):
    """A user of the TAP service; authenticated by its tokens (qserv.meta.users)."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utc_now)
    tokens: Mapped[list["Token"]] = relationship(back_populates="user", cascade="all, delete-orphan",
                                                 order_by="Token.id")


class Token(Base):
    """A bearer token of a user: only the SHA-256 of the token is stored, never the token."""

    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utc_now)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    user: Mapped[User] = relationship(back_populates="tokens")


class Move(Base):
    """A replica change in progress (qserv.exec.moves): ``kind`` move (source -> target), add (a new
    replica on target, copied from source) or drop (source's replica). ``state`` copying: the target
    may hold a partial copy, the replicas are unchanged; switched: the replica records changed, the
    old copy may remain on source. The next open undoes or finishes it once its owner is gone."""

    __tablename__ = "moves"
    __table_args__ = (UniqueConstraint("database_id", "chunk"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    database_id: Mapped[int] = mapped_column(ForeignKey("databases.id"))
    chunk: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(8))  # move | add | drop
    source_worker_id: Mapped[int] = mapped_column(ForeignKey("workers.id"))
    target_worker_id: Mapped[int | None] = mapped_column(ForeignKey("workers.id"))
    state: Mapped[str] = mapped_column(String(16))  # copying | switched
    last_transaction: Mapped[int] = mapped_column(Integer, default=0)  # largest transaction id at start
    # the transaction of the new copy's rows (open until the switch) and of the old copy's rows
    # (committed until the switch, then aborting: hidden, and deleted by the transaction recovery)
    new_transaction: Mapped[int | None] = mapped_column(Integer)
    owner_host: Mapped[str | None] = mapped_column(String(255))
    owner_pid: Mapped[int | None] = mapped_column(Integer)
    owner_start: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utc_now)


class AdminJob(Base):
    """A long DBA operation run by the REST API (qserv.meta.jobs): drain, rebalance, replicate,
    verify, ingest commit. ``done`` of ``total`` steps; ``errors`` a list of messages."""

    __tablename__ = "admin_jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(255))  # what it acts on: a database, worker, transaction
    owner: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="queued")  # queued|running|done|failed
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list] = mapped_column(JSON, default=list)
    result: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utc_now)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)


class Snapshot(Base):
    """A named state of the catalog (``qserv snapshot tag``): queries ``as_of`` it see the rows
    its ``visibility`` ({"newest": id, "pending": [ids]}) shows; written by qserv.meta.snapshots."""

    __tablename__ = "snapshots"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    visibility: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utc_now)
    released_at: Mapped[datetime | None] = mapped_column(DateTime)

"""Initial central state: settings, workers, databases, tables, chunks, replicas, transactions.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "settings",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_settings"),
    )
    op.create_table(
        "workers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("backend", sa.String(16), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_workers"),
        sa.UniqueConstraint("name", name="uq_workers_name"),
    )
    op.create_table(
        "databases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("chunk_order", sa.Integer(), nullable=False),
        sa.Column("subchunk_order", sa.Integer(), nullable=False),
        sa.Column("overlap_arcsec", sa.Float(), nullable=False),
        sa.Column("replication", sa.Integer(), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_databases"),
        sa.UniqueConstraint("name", name="uq_databases_name"),
    )
    op.create_table(
        "tables",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("database_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("id_column", sa.String(64), nullable=True),
        sa.Column("ra_column", sa.String(64), nullable=True),
        sa.Column("dec_column", sa.String(64), nullable=True),
        sa.Column("non_unique", sa.Boolean(), nullable=False),
        sa.Column("director_table_id", sa.Integer(), nullable=True),
        sa.Column("director_key", sa.String(64), nullable=True),
        sa.Column("partition_column", sa.String(64), nullable=True),
        sa.Column("bucket_size", sa.Float(), nullable=True),
        sa.Column("bucket_count", sa.Integer(), nullable=True),
        sa.Column("felis", sa.JSON(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["database_id"], ["databases.id"], name="fk_tables_database_id_databases"),
        sa.ForeignKeyConstraint(["director_table_id"], ["tables.id"], name="fk_tables_director_table_id_tables"),
        sa.PrimaryKeyConstraint("id", name="pk_tables"),
        sa.UniqueConstraint("database_id", "name", name="uq_tables_database_id"),
    )
    op.create_table(
        "chunks",
        sa.Column("table_id", sa.Integer(), nullable=False),
        sa.Column("chunk", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("overlap_rows", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["table_id"], ["tables.id"], name="fk_chunks_table_id_tables"),
        sa.PrimaryKeyConstraint("table_id", "chunk", name="pk_chunks"),
    )
    op.create_table(
        "replicas",
        sa.Column("database_id", sa.Integer(), nullable=False),
        sa.Column("chunk", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("worker_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["database_id"], ["databases.id"], name="fk_replicas_database_id_databases"),
        sa.ForeignKeyConstraint(["worker_id"], ["workers.id"], name="fk_replicas_worker_id_workers"),
        sa.PrimaryKeyConstraint("database_id", "chunk", "worker_id", name="pk_replicas"),
    )
    op.create_table(
        "transactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("database_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["database_id"], ["databases.id"], name="fk_transactions_database_id_databases"),
        sa.PrimaryKeyConstraint("id", name="pk_transactions"),
    )


def downgrade():
    for table in ("transactions", "replicas", "chunks", "tables", "databases", "workers", "settings"):
        op.drop_table(table)

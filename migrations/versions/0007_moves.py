"""Replica changes in progress (chunk moves, added and dropped replicas), finished or undone at the
next open after a crash (qserv.exec.moves).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "moves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("database_id", sa.Integer(), nullable=False),
        sa.Column("chunk", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("source_worker_id", sa.Integer(), nullable=False),
        sa.Column("target_worker_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("last_transaction", sa.Integer(), nullable=False),
        sa.Column("new_transaction", sa.Integer(), nullable=True),
        sa.Column("owner_host", sa.String(255), nullable=True),
        sa.Column("owner_pid", sa.Integer(), nullable=True),
        sa.Column("owner_start", sa.BigInteger(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["database_id"], ["databases.id"], name="fk_moves_database_id_databases"),
        sa.ForeignKeyConstraint(["source_worker_id"], ["workers.id"], name="fk_moves_source_worker_id_workers"),
        sa.ForeignKeyConstraint(["target_worker_id"], ["workers.id"], name="fk_moves_target_worker_id_workers"),
        sa.PrimaryKeyConstraint("id", name="pk_moves"),
        sa.UniqueConstraint("database_id", "chunk", name="uq_moves_database_id"),
    )


def downgrade():
    op.drop_table("moves")

"""Contributions of super-transactions and their per-chunk row counts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "contributions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=False),
        sa.Column("table_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("overlap_rows", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["table_id"], ["tables.id"], name="fk_contributions_table_id_tables"),
        sa.ForeignKeyConstraint(["transaction_id"], ["transactions.id"],
                                name="fk_contributions_transaction_id_transactions"),
        sa.PrimaryKeyConstraint("id", name="pk_contributions"),
        sa.UniqueConstraint("transaction_id", "table_id", "key", name="uq_contributions_transaction_id"),
    )
    op.create_table(
        "contribution_chunks",
        sa.Column("contribution_id", sa.Integer(), nullable=False),
        sa.Column("chunk", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("overlap_rows", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["contribution_id"], ["contributions.id"],
                                name="fk_contribution_chunks_contribution_id_contributions"),
        sa.PrimaryKeyConstraint("contribution_id", "chunk", name="pk_contribution_chunks"),
    )


def downgrade():
    op.drop_table("contribution_chunks")
    op.drop_table("contributions")

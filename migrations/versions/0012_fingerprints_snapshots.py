"""Query fingerprints and snapshots (issue 20): ``query_log`` gains the visibility a query read,
the snapshot it was pinned to, its result columns, row checksum and timing breakdown
(``qserv.fingerprint``); ``snapshots`` holds the named states of ``qserv snapshot tag``.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_QUERY_LOG_COLUMNS = (
    ("visibility", sa.JSON()),
    ("as_of", sa.String(64)),
    ("result_columns", sa.JSON()),
    ("checksum", sa.String(16)),
    ("plan_s", sa.Float()),
    ("workers_s", sa.Float()),
    ("merge_s", sa.Float()),
)


def upgrade():
    with op.batch_alter_table("query_log") as batch:
        for name, kind in _QUERY_LOG_COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
    op.create_table(
        "snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("visibility", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("released_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_snapshots"),
        sa.UniqueConstraint("name", name="uq_snapshots_name"),
    )


def downgrade():
    op.drop_table("snapshots")
    with op.batch_alter_table("query_log") as batch:
        for name, _ in reversed(_QUERY_LOG_COLUMNS):
            batch.drop_column(name)

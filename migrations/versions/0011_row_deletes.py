"""Row deletion and catalog changes: ``tables.row_deletes`` (the table's rows may carry a deleting
transaction in ``_qserv_deleted``: readers then also test it) and ``catalog_changes``, one row per
change of the catalog that its other versions do not show (a table or database dropped, row
deletion switched on), so that cached catalogs and plans are replaced.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("tables") as batch:
        batch.add_column(sa.Column("row_deletes", sa.Boolean(), nullable=False, server_default="0"))
    op.create_table(
        "catalog_changes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("what", sa.Text(), nullable=False),
    )


def downgrade():
    op.drop_table("catalog_changes")
    with op.batch_alter_table("tables") as batch:
        batch.drop_column("row_deletes")

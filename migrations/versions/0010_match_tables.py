"""Match tables (``kind`` match): ``tables.director2_table_id`` and ``tables.director2_key``, the
second director a match table relates to its first (``director_table_id``, ``director_key``).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("tables") as batch:
        batch.add_column(sa.Column("director2_table_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("director2_key", sa.String(64), nullable=True))
        batch.create_foreign_key("fk_tables_director2_table_id_tables", "tables", ["director2_table_id"], ["id"])


def downgrade():
    with op.batch_alter_table("tables") as batch:
        batch.drop_constraint("fk_tables_director2_table_id_tables", type_="foreignkey")
        batch.drop_column("director2_key")
        batch.drop_column("director2_table_id")

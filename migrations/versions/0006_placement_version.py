"""A database's placement version: raised by every change of its replicas after placement (a chunk
moved, a replica added or dropped), so that the in-memory chunk map of every process is read again.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("databases") as batch:
        batch.add_column(sa.Column("placement_version", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade():
    with op.batch_alter_table("databases") as batch:
        batch.drop_column("placement_version")

"""Children placed by or near their director: ``tables.director_position`` (the child's --ra/--dec
are its director's position) and ``tables.director_distance_arcsec`` (the largest measured distance
of a child row from its director; NULL, not known, for the tables of earlier revisions).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("tables") as batch:
        batch.add_column(sa.Column("director_position", sa.Boolean(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("director_distance_arcsec", sa.Float(), nullable=True))


def downgrade():
    with op.batch_alter_table("tables") as batch:
        batch.drop_column("director_distance_arcsec")
        batch.drop_column("director_position")

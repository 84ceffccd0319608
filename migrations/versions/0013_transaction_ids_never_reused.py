"""Transaction ids are never reused: on SQLite the ``transactions`` table becomes AUTOINCREMENT
(a plain rowid key hands the id of a deleted newest row out again, and ``qserv db drop`` deletes a
database's transactions: a reader or a pinned snapshot hiding "every id above N" would then see the
rows of a later transaction). PostgreSQL central states already draw ids from a sequence.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("transactions", recreate="always", table_kwargs={"sqlite_autoincrement": True}):
            pass


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("transactions", recreate="always", table_kwargs={"sqlite_autoincrement": False}):
            pass

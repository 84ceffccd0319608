"""TAP async jobs (UWS 1.1), users and their tokens.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "tap_jobs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=True),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("creation_time", sa.DateTime(), nullable=False),
        sa.Column("start_time", sa.DateTime(), nullable=True),
        sa.Column("end_time", sa.DateTime(), nullable=True),
        sa.Column("execution_duration_s", sa.Integer(), nullable=False),
        sa.Column("destruction_time", sa.DateTime(), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("result_path", sa.Text(), nullable=True),
        sa.Column("result_mime", sa.String(128), nullable=True),
        sa.Column("result_rows", sa.BigInteger(), nullable=True),
        sa.Column("overflow", sa.Boolean(), nullable=False),
        sa.Column("query_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_tap_jobs"),
    )
    op.create_index("ix_tap_jobs_owner", "tap_jobs", ["owner"])
    op.create_index("ix_tap_jobs_destruction_time", "tap_jobs", ["destruction_time"])
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("name", name="uq_users_name"),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_tokens_user_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_tokens"),
        sa.UniqueConstraint("token_sha256", name="uq_tokens_token_sha256"),
    )
    op.create_index("ix_tokens_user_id", "tokens", ["user_id"])


def downgrade():
    op.drop_index("ix_tokens_user_id", table_name="tokens")
    op.drop_table("tokens")
    op.drop_table("users")
    op.drop_index("ix_tap_jobs_destruction_time", table_name="tap_jobs")
    op.drop_index("ix_tap_jobs_owner", table_name="tap_jobs")
    op.drop_table("tap_jobs")

"""State shared by the gateway's replicas: the journal, quota buckets, fault rule counters,
and the replicas themselves.

Revision ID: gateway_0003
Revises: gateway_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "gateway_0003"
down_revision = "gateway_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("gateway_fault_rule") as batch:
        batch.add_column(sa.Column("seq", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("fired", sa.Integer, nullable=False, server_default="0"))
    op.create_table(
        "gateway_journal",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.Text, nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("request_id", sa.Text, nullable=False),
        sa.Column("consumer", sa.Text, nullable=False),
        sa.Column("api", sa.Text, nullable=False),
        sa.Column("upstream", sa.Text, nullable=False),
        sa.Column("method", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.Column("fault", sa.JSON, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_gateway_journal"),
    )
    op.create_index("ix_gateway_journal_tenant_ts", "gateway_journal", ["tenant", "ts"])
    op.create_table(
        "gateway_quota_bucket",
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("granted", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("client_id", name="pk_gateway_quota_bucket"),
    )
    op.create_table(
        "gateway_replica",
        sa.Column("replica", sa.String(32), nullable=False),
        sa.Column("seen", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("replica", name="pk_gateway_replica"),
    )


def downgrade() -> None:
    op.drop_table("gateway_replica")
    op.drop_table("gateway_quota_bucket")
    op.drop_index("ix_gateway_journal_tenant_ts", "gateway_journal")
    op.drop_table("gateway_journal")
    with op.batch_alter_table("gateway_fault_rule") as batch:
        batch.drop_column("fired")
        batch.drop_column("seq")

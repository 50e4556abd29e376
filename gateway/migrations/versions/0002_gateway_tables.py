"""Tenants, consumers and fault rules of the gateway.

Revision ID: gateway_0002
Revises: control_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "gateway_0002"
down_revision = "control_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gateway_tenant",
        sa.Column("tenant", sa.String(63), nullable=False),
        sa.Column("description", sa.String(256), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", name="pk_gateway_tenant"),
    )
    op.create_table(
        "gateway_consumer",
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("tenant", sa.String(63), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("api_key_hash", sa.String(64), nullable=False),
        sa.Column("scopes", sa.JSON, nullable=False),
        sa.Column("rate_per_s", sa.Float, nullable=True),
        sa.Column("burst", sa.Integer, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_id", name="pk_gateway_consumer"),
        sa.UniqueConstraint("api_key_hash", name="uq_gateway_consumer_api_key_hash"),
    )
    op.create_index("ix_gateway_consumer_tenant", "gateway_consumer", ["tenant"])
    op.create_table(
        "gateway_fault_rule",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(63), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("api", sa.String(32), nullable=False),
        sa.Column("path", sa.String(512), nullable=False),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("consumer", sa.String(64), nullable=False),
        sa.Column("remaining", sa.Integer, nullable=True),
        sa.Column("probability", sa.Float, nullable=False),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_gateway_fault_rule"),
    )
    op.create_index("ix_gateway_fault_rule_tenant", "gateway_fault_rule", ["tenant"])


def downgrade() -> None:
    op.drop_table("gateway_fault_rule")
    op.drop_index("ix_gateway_consumer_tenant", "gateway_consumer")
    op.drop_table("gateway_consumer")
    op.drop_table("gateway_tenant")

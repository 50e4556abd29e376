"""Partners, payments, refunds and the outbox of result notices.

Revision ID: payment_0002
Revises: control_0001
"""

import sqlalchemy as sa
from alembic import op

from vnsandbox.migrations import create_outbox_tables, drop_outbox_tables

revision = "payment_0002"
down_revision = "control_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox_tables()
    op.create_table(
        "payment_partner",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(63), nullable=False),
        sa.Column("code", sa.String(50), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("secret", sa.String(256), nullable=False),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("field_orders", sa.JSON, nullable=False),
        sa.Column("notice_url", sa.String(2048), nullable=False),
        sa.Column("return_url", sa.String(2048), nullable=False),
        sa.Column("created_ts", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_payment_partner"),
        sa.UniqueConstraint("tenant", "code", name="uq_payment_partner_tenant_code"),
    )
    op.create_index("ix_payment_partner_tenant", "payment_partner", ["tenant"])
    op.create_table(
        "payment_transaction",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(63), nullable=False),
        sa.Column("partner_code", sa.String(50), nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("transaction_id", sa.String(32), nullable=False),
        sa.Column("page_token", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("result_code", sa.String(4), nullable=False),
        sa.Column("bank_code", sa.String(32), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("dossier_code", sa.String(64), nullable=False),
        sa.Column("payer_name", sa.String(255), nullable=False),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("created_ts", sa.Float, nullable=False),
        sa.Column("expires_ts", sa.Float, nullable=False),
        sa.Column("completed_ts", sa.Float, nullable=True),
        sa.Column("refunded_amount", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_payment_transaction"),
        sa.UniqueConstraint("tenant", "partner_code", "reference", name="uq_payment_transaction_reference"),
        sa.UniqueConstraint("tenant", "transaction_id", name="uq_payment_transaction_transaction_id"),
    )
    for col in ("tenant", "page_token", "status", "expires_ts"):
        op.create_index(f"ix_payment_transaction_{col}", "payment_transaction", [col])
    op.create_table(
        "payment_refund",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(63), nullable=False),
        sa.Column("partner_code", sa.String(50), nullable=False),
        sa.Column("payment_id", sa.Integer, nullable=False),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("refund_id", sa.String(32), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_ts", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_payment_refund"),
        sa.UniqueConstraint("tenant", "partner_code", "reference", name="uq_payment_refund_reference"),
    )
    op.create_index("ix_payment_refund_tenant", "payment_refund", ["tenant"])
    op.create_index("ix_payment_refund_payment_id", "payment_refund", ["payment_id"])


def downgrade() -> None:
    op.drop_table("payment_refund")
    op.drop_table("payment_transaction")
    op.drop_table("payment_partner")
    drop_outbox_tables()

"""Dossier tables (units, sessions, dossiers, events, rejections, inbox, payments) and the outbox.

Revision ID: dossier_0002
Revises: control_0001
"""

import sqlalchemy as sa
from alembic import op

from vnsandbox.migrations import create_outbox_tables, drop_outbox_tables

revision = "dossier_0002"
down_revision = "control_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dossier",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("unit_code", sa.String(length=64), nullable=False),
        sa.Column("procedure_code", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.Integer(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("reported_status", sa.Integer(), nullable=True),
        sa.Column("owner_id_number", sa.String(length=32), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=True),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("synced_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("last_progress_at", sa.DateTime(), nullable=True),
        sa.Column("paid_online", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier")),
        sa.UniqueConstraint("tenant", "code", name="uq_dossier_tenant_code"),
    )
    op.create_index(op.f("ix_dossier_tenant"), "dossier", ["tenant"], unique=False)
    op.create_index("ix_dossier_tenant_unit_received", "dossier", ["tenant", "unit_code", "received_at"], unique=False)
    op.create_table(
        "dossier_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("dossier_code", sa.String(length=64), nullable=False),
        sa.Column("unit_code", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=True),
        sa.Column("status_from", sa.Integer(), nullable=True),
        sa.Column("status_to", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("warning", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier_event")),
    )
    op.create_index(op.f("ix_dossier_event_tenant"), "dossier_event", ["tenant"], unique=False)
    op.create_index("ix_dossier_event_tenant_code", "dossier_event", ["tenant", "dossier_code"], unique=False)
    op.create_table(
        "dossier_inbox",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("unit_code", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("dossier_code", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.String(length=32), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier_inbox")),
    )
    op.create_index(op.f("ix_dossier_inbox_delivery_id"), "dossier_inbox", ["delivery_id"], unique=False)
    op.create_index(op.f("ix_dossier_inbox_tenant"), "dossier_inbox", ["tenant"], unique=False)
    op.create_index(
        "ix_dossier_inbox_tenant_unit", "dossier_inbox", ["tenant", "unit_code", "acknowledged_at"], unique=False
    )
    op.create_table(
        "dossier_payment",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("transaction_id", sa.String(length=128), nullable=False),
        sa.Column("dossier_code", sa.String(length=64), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier_payment")),
        sa.UniqueConstraint("tenant", "transaction_id", name="uq_dossier_payment_tenant_txn"),
    )
    op.create_index(op.f("ix_dossier_payment_tenant"), "dossier_payment", ["tenant"], unique=False)
    op.create_table(
        "dossier_rejected",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("unit_code", sa.String(length=64), nullable=False),
        sa.Column("dossier_code", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier_rejected")),
    )
    op.create_index(op.f("ix_dossier_rejected_tenant"), "dossier_rejected", ["tenant"], unique=False)
    op.create_index(op.f("ix_dossier_rejected_unit_code"), "dossier_rejected", ["unit_code"], unique=False)
    op.create_table(
        "dossier_session",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("unit_code", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("revoked", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier_session")),
        sa.UniqueConstraint("token", name=op.f("uq_dossier_session_token")),
    )
    op.create_index(op.f("ix_dossier_session_tenant"), "dossier_session", ["tenant"], unique=False)
    op.create_table(
        "dossier_unit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("parent_code", sa.String(length=64), nullable=True),
        sa.Column("username", sa.String(length=128), nullable=False),
        sa.Column("password_hash", sa.String(length=128), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("api_key", sa.String(length=128), nullable=True),
        sa.Column("gateway_client_id", sa.String(length=128), nullable=True),
        sa.Column("webhook_url", sa.String(length=2048), nullable=True),
        sa.Column("webhook_secret", sa.String(length=256), nullable=True),
        sa.Column("transition_mode", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dossier_unit")),
        sa.UniqueConstraint("tenant", "code", name="uq_dossier_unit_tenant_code"),
        sa.UniqueConstraint("tenant", "username", name="uq_dossier_unit_tenant_username"),
    )
    op.create_index(op.f("ix_dossier_unit_api_key"), "dossier_unit", ["api_key"], unique=False)
    op.create_index(op.f("ix_dossier_unit_tenant"), "dossier_unit", ["tenant"], unique=False)
    create_outbox_tables()


def downgrade() -> None:
    drop_outbox_tables()
    op.drop_index(op.f("ix_dossier_unit_tenant"), table_name="dossier_unit")
    op.drop_index(op.f("ix_dossier_unit_api_key"), table_name="dossier_unit")
    op.drop_table("dossier_unit")
    op.drop_index(op.f("ix_dossier_session_tenant"), table_name="dossier_session")
    op.drop_table("dossier_session")
    op.drop_index(op.f("ix_dossier_rejected_unit_code"), table_name="dossier_rejected")
    op.drop_index(op.f("ix_dossier_rejected_tenant"), table_name="dossier_rejected")
    op.drop_table("dossier_rejected")
    op.drop_index(op.f("ix_dossier_payment_tenant"), table_name="dossier_payment")
    op.drop_table("dossier_payment")
    op.drop_index("ix_dossier_inbox_tenant_unit", table_name="dossier_inbox")
    op.drop_index(op.f("ix_dossier_inbox_tenant"), table_name="dossier_inbox")
    op.drop_index(op.f("ix_dossier_inbox_delivery_id"), table_name="dossier_inbox")
    op.drop_table("dossier_inbox")
    op.drop_index("ix_dossier_event_tenant_code", table_name="dossier_event")
    op.drop_index(op.f("ix_dossier_event_tenant"), table_name="dossier_event")
    op.drop_table("dossier_event")
    op.drop_index("ix_dossier_tenant_unit_received", table_name="dossier")
    op.drop_index(op.f("ix_dossier_tenant"), table_name="dossier")
    op.drop_table("dossier")

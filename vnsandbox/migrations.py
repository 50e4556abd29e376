"""The body of every service's Alembic ``env.py``.

A service's ``migrations/env.py`` is a single call to :func:`run_env`; the connection
and the version table name come from :meth:`vnsandbox.db.Database.migrate`.
"""

from __future__ import annotations

from alembic import context


def run_env() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("migrations are applied by the service at start (Database.migrate), not offline")
    context.configure(
        connection=connection,
        version_table=config.attributes["version_table"],
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def create_control_tables() -> None:
    """Create the control-plane tables (switches, test clock); every service's first migration calls it."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "sandbox_switch",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(63), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(128), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("remaining", sa.Integer, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sandbox_switch"),
    )
    op.create_index("ix_sandbox_switch_tenant", "sandbox_switch", ["tenant"])
    op.create_table(
        "sandbox_clock",
        sa.Column("tenant", sa.String(63), nullable=False),
        sa.Column("offset_seconds", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("tenant", name="pk_sandbox_clock"),
    )
    op.create_table(
        "sandbox_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(63), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("service", sa.String(32), nullable=False),
        sa.Column("client", sa.String(128), nullable=False),
        sa.Column("subject", sa.String(32), nullable=False),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("purpose", sa.String(256), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sandbox_audit"),
    )
    op.create_index("ix_sandbox_audit_tenant", "sandbox_audit", ["tenant"])
    op.create_index("ix_sandbox_audit_subject", "sandbox_audit", ["subject"])


def drop_control_tables() -> None:
    from alembic import op

    op.drop_table("sandbox_audit")
    op.drop_table("sandbox_clock")
    op.drop_index("ix_sandbox_switch_tenant", "sandbox_switch")
    op.drop_table("sandbox_switch")


def create_outbox_tables() -> None:
    """Alembic helper: create the outbox tables in a service's migration."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "outbox_delivery",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("tenant", sa.String(63), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("ref", sa.String(128), nullable=False),
        sa.Column("target_url", sa.String(2048), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("content_type", sa.String(128), nullable=False),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("sign_secret", sa.String(256), nullable=True),
        sa.Column("signature_header", sa.String(64), nullable=False),
        sa.Column("accept", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_ts", sa.Float, nullable=False),
        sa.Column("lease_until", sa.Float, nullable=False),
        sa.Column("last_status", sa.Integer, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_ts", sa.Float, nullable=False),
        sa.Column("delivered_ts", sa.Float, nullable=True),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_delivery"),
    )
    for col in ("tenant", "ref", "status", "next_attempt_ts"):
        op.create_index(f"ix_outbox_delivery_{col}", "outbox_delivery", [col])
    op.create_table(
        "outbox_attempt",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("delivery_id", sa.String(32), nullable=False),
        sa.Column("tenant", sa.String(63), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("at_ts", sa.Float, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.Column("response_body", sa.Text, nullable=True),
        sa.Column("accepted", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_attempt"),
    )
    op.create_index("ix_outbox_attempt_delivery_id", "outbox_attempt", ["delivery_id"])
    op.create_index("ix_outbox_attempt_tenant", "outbox_attempt", ["tenant"])


def drop_outbox_tables() -> None:
    from alembic import op

    op.drop_table("outbox_attempt")
    op.drop_table("outbox_delivery")

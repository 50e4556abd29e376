"""Identity tables: population, clients, signing keys, codes, tokens, login sessions.

Revision ID: identity_0002
Revises: control_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "identity_0002"
down_revision = "control_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_auth_code",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("code", sa.String(length=128), nullable=False),
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("cccd", sa.String(length=12), nullable=False),
        sa.Column("redirect_uri", sa.String(length=1024), nullable=False),
        sa.Column("scope", sa.String(length=1024), nullable=False),
        sa.Column("nonce", sa.String(length=512), nullable=True),
        sa.Column("code_challenge", sa.String(length=256), nullable=True),
        sa.Column("code_challenge_method", sa.String(length=8), nullable=True),
        sa.Column("acr", sa.String(length=8), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("auth_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_auth_code")),
        sa.UniqueConstraint("tenant", "code", name="uq_identity_auth_code_tenant_code"),
    )
    op.create_index(op.f("ix_identity_auth_code_tenant"), "identity_auth_code", ["tenant"], unique=False)
    op.create_table(
        "identity_client",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("client_secret", sa.String(length=256), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("redirect_uris", sa.JSON(), nullable=False),
        sa.Column("post_logout_redirect_uris", sa.JSON(), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("grant_types", sa.JSON(), nullable=False),
        sa.Column("auth_methods", sa.JSON(), nullable=False),
        sa.Column("jwks", sa.JSON(), nullable=False),
        sa.Column("required_level", sa.Integer(), nullable=False),
        sa.Column("require_pkce", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_client")),
        sa.UniqueConstraint("tenant", "client_id", name="uq_identity_client_tenant_client_id"),
    )
    op.create_index(op.f("ix_identity_client_tenant"), "identity_client", ["tenant"], unique=False)
    op.create_table(
        "identity_login_session",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("sid", sa.String(length=64), nullable=False),
        sa.Column("cccd", sa.String(length=12), nullable=False),
        sa.Column("acr", sa.String(length=8), nullable=False),
        sa.Column("auth_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_login_session")),
        sa.UniqueConstraint("tenant", "sid", name="uq_identity_login_session_tenant_sid"),
    )
    op.create_index(op.f("ix_identity_login_session_tenant"), "identity_login_session", ["tenant"], unique=False)
    op.create_table(
        "identity_person",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("cccd", sa.String(length=12), nullable=False),
        sa.Column("tech_id", sa.String(length=36), nullable=False),
        sa.Column("full_name", sa.String(length=128), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=False),
        sa.Column("nationality", sa.String(length=3), nullable=False),
        sa.Column("address", sa.String(length=256), nullable=False),
        sa.Column("ward_code", sa.String(length=8), nullable=False),
        sa.Column("province_code", sa.String(length=4), nullable=False),
        sa.Column("household_id", sa.String(length=16), nullable=False),
        sa.Column("household_role", sa.String(length=16), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=False),
        sa.Column("email", sa.String(length=128), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("account_type", sa.String(length=16), nullable=False),
        sa.Column("death_date", sa.Date(), nullable=True),
        sa.Column("document_issued", sa.Date(), nullable=True),
        sa.Column("document_expires", sa.Date(), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_person")),
        sa.UniqueConstraint("tenant", "cccd", name="uq_identity_person_tenant_cccd"),
    )
    op.create_index(op.f("ix_identity_person_tenant"), "identity_person", ["tenant"], unique=False)
    op.create_index("ix_identity_person_tenant_name", "identity_person", ["tenant", "full_name"], unique=False)
    op.create_table(
        "identity_population_info",
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant", name=op.f("pk_identity_population_info")),
    )
    op.create_table(
        "identity_signing_key",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("private_pem", sa.String(length=4096), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_signing_key")),
        sa.UniqueConstraint("tenant", "kid", name="uq_identity_signing_key_tenant_kid"),
    )
    op.create_index(op.f("ix_identity_signing_key_tenant"), "identity_signing_key", ["tenant"], unique=False)
    op.create_table(
        "identity_token",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("jti", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("cccd", sa.String(length=12), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("scope", sa.String(length=1024), nullable=False),
        sa.Column("acr", sa.String(length=8), nullable=False),
        sa.Column("nonce", sa.String(length=512), nullable=True),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("auth_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code", sa.String(length=128), nullable=False),
        sa.Column("family", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_token")),
        sa.UniqueConstraint("tenant", "jti", name="uq_identity_token_tenant_jti"),
    )
    op.create_index(op.f("ix_identity_token_code"), "identity_token", ["code"], unique=False)
    op.create_index(op.f("ix_identity_token_family"), "identity_token", ["family"], unique=False)
    op.create_index(op.f("ix_identity_token_tenant"), "identity_token", ["tenant"], unique=False)
    op.create_table(
        "identity_used_assertion",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=63), nullable=False),
        sa.Column("jti", sa.String(length=256), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_used_assertion")),
        sa.UniqueConstraint("tenant", "jti", name="uq_identity_used_assertion_tenant_jti"),
    )
    op.create_index(op.f("ix_identity_used_assertion_tenant"), "identity_used_assertion", ["tenant"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_identity_used_assertion_tenant"), table_name="identity_used_assertion")
    op.drop_table("identity_used_assertion")
    op.drop_index(op.f("ix_identity_token_tenant"), table_name="identity_token")
    op.drop_index(op.f("ix_identity_token_family"), table_name="identity_token")
    op.drop_index(op.f("ix_identity_token_code"), table_name="identity_token")
    op.drop_table("identity_token")
    op.drop_index(op.f("ix_identity_signing_key_tenant"), table_name="identity_signing_key")
    op.drop_table("identity_signing_key")
    op.drop_table("identity_population_info")
    op.drop_index("ix_identity_person_tenant_name", table_name="identity_person")
    op.drop_index(op.f("ix_identity_person_tenant"), table_name="identity_person")
    op.drop_table("identity_person")
    op.drop_index(op.f("ix_identity_login_session_tenant"), table_name="identity_login_session")
    op.drop_table("identity_login_session")
    op.drop_index(op.f("ix_identity_client_tenant"), table_name="identity_client")
    op.drop_table("identity_client")
    op.drop_index(op.f("ix_identity_auth_code_tenant"), table_name="identity_auth_code")
    op.drop_table("identity_auth_code")

"""A unit chooses how its webhooks are signed: ``sandbox`` (X-Sandbox-Signature) or ``standard-webhooks``.

Revision ID: dossier_0004
Revises: dossier_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "dossier_0004"
down_revision = "dossier_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dossier_unit") as batch:
        batch.add_column(sa.Column("signature_scheme", sa.String(32), nullable=False, server_default="sandbox"))


def downgrade() -> None:
    with op.batch_alter_table("dossier_unit") as batch:
        batch.drop_column("signature_scheme")

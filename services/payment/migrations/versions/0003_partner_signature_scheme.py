"""A partner chooses how result notices are signed over HTTP: ``sandbox`` or ``standard-webhooks``.

Revision ID: payment_0003
Revises: payment_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "payment_0003"
down_revision = "payment_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payment_partner") as batch:
        batch.add_column(sa.Column("signature_scheme", sa.String(32), nullable=False, server_default="sandbox"))


def downgrade() -> None:
    with op.batch_alter_table("payment_partner") as batch:
        batch.drop_column("signature_scheme")

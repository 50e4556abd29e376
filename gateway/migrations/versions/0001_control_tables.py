"""Control-plane tables (switches, test clock, audit).

Revision ID: gateway_0001
Revises:
"""

from vnsandbox.migrations import create_control_tables, drop_control_tables

revision = "gateway_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_control_tables()


def downgrade() -> None:
    drop_control_tables()

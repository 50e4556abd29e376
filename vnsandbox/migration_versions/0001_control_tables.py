"""Control-plane tables (switches, test clock, audit), the first revision of every service.

Each service's Alembic history starts here: ``Database.migrate`` adds this folder to the
service's version locations, and the service's own first revision names ``control_0001`` as
its ``down_revision``. Every service keeps its own version table, so the shared revision is
applied once per service database.

Revision ID: control_0001
Revises:
"""

from vnsandbox.migrations import create_control_tables, drop_control_tables

revision = "control_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_control_tables()


def downgrade() -> None:
    drop_control_tables()

"""One progress record per (tenant, dossier, replay key): the database refuses a second one.

The service serialises progress calls per dossier and answers a repeated key with code 24;
this index makes the database itself refuse a second application of a record, whatever
the code path. Rows that repeat a key of an earlier row of the same dossier (written before
the index existed) keep their history but lose the key.

Revision ID: dossier_0003
Revises: dossier_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "dossier_0003"
down_revision = "dossier_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE dossier_event SET key = NULL WHERE key IS NOT NULL AND id NOT IN ("
            "SELECT MIN(id) FROM dossier_event WHERE key IS NOT NULL GROUP BY tenant, dossier_code, key)"
        )
    )
    op.create_index("uq_dossier_event_tenant_code_key", "dossier_event", ["tenant", "dossier_code", "key"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_dossier_event_tenant_code_key", table_name="dossier_event")

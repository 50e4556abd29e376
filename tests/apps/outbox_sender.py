"""A worker process sending one database's outbox until nothing is left to send (or 120 s pass).

    python -m tests.apps.outbox_sender DATABASE_URL

Two of these on one database are two replicas' outbox workers.
"""

from __future__ import annotations

import sys
import time

from sqlalchemy import func, select

from vnsandbox.db import Database
from vnsandbox.outbound import OutboundPolicy
from vnsandbox.outbox import DELIVERED, Delivery, OutboxBase, OutboxSender, RetryPolicy


def main(url: str) -> None:
    db = Database(url, [OutboxBase.metadata])
    sender = OutboxSender(db, RetryPolicy(timeout_s=30), batch=16, outbound=OutboundPolicy("embedded"))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if sender.run_once() == 0:
            with db.session() as s:
                left = s.scalar(select(func.count()).select_from(Delivery).where(Delivery.status != DELIVERED))
            if not left:
                break
            time.sleep(0.02)
    sender.close()
    db.dispose()


if __name__ == "__main__":
    main(sys.argv[1])

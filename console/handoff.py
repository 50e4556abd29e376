"""The hand-off to the officer's desk (desk/, docs/desk.md): a province step of a scenario can be
done on the desk instead of with the presenter's button.

The presenter's page carries a small form that posts the scenario tenant's consumer credentials
to the desk's sign-in (``POST {CONSOLE_DESK_URL}/dang-nhap``, in a new tab): the desk checks them
with the gateway, keeps them in its own sealed session cookie and opens the dossier's page. The
credentials travel in the form's body, never in a URL (they would stay in histories and logs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from console.gateway import Operator


@dataclass(frozen=True)
class DeskHandOff:
    #: The desk's sign-in, where the form posts.
    action: str
    client_id: str
    client_secret: str
    #: The desk's page to open once signed in.
    next: str


def desk_hand_off(desk_url: str, op: Operator, dossier: dict[str, Any] | None) -> DeskHandOff | None:
    """The form's fields; none when no desk is configured or the tenant has no credentials (an
    embedded gateway's open ``default``, which the desk serves without signing in)."""
    if not desk_url or not op.client_id:
        return None
    page = f"/ho-so/{quote(str(dossier['MaHoSo']), safe='')}" if dossier and dossier.get("MaHoSo") else "/"
    return DeskHandOff(f"{desk_url.rstrip('/')}/dang-nhap", op.client_id, op.client_secret, page)

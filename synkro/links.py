"""Every absolute link Synkro hands out: the portal's own pages and the amoCRM cards.

Why one module: the Telegram report, the stored HTML report and the portal all link to the same
dialog page and the same amoCRM cards; the URL shapes live here once. The portal's public address
is `SYNKRO_PUBLIC_URL` (`synkro.web.config.public_url`), the amoCRM address the tenant's config
(`synkro.clients.tenant_clients.amocrm_base_url`).
"""

from __future__ import annotations

from urllib.parse import quote


def portal_base_url() -> str:
    """Where users reach the portal, without a trailing slash (raises on a malformed setting)."""
    from synkro.web.config import public_url

    return public_url()


def dialog_path(slug: str, dialog_id: str | int) -> str:
    """The portal path of one dialog's page; the id is `fct_dialogs.dialog_id` (= the Radist chat)."""
    return f"/t/{quote(slug, safe='')}/dialogs/{quote(str(dialog_id), safe='')}"


def dialog_url(portal_url: str | None, slug: str, dialog_id: str | int) -> str | None:
    """Absolute link to the dialog's page, or None when the portal's address is unknown."""
    if not portal_url:
        return None
    return f"{portal_url.rstrip('/')}{dialog_path(slug, dialog_id)}"


def lead_url(amocrm_base_url: str | None, lead_id: int | None) -> str | None:
    """Link to the lead card in amoCRM: ``{base}/leads/detail/{lead_id}``."""
    if not amocrm_base_url or lead_id is None:
        return None
    return f"{amocrm_base_url.rstrip('/')}/leads/detail/{lead_id}"


def contact_url(amocrm_base_url: str | None, contact_id: int | None) -> str | None:
    """Link to the contact card in amoCRM: ``{base}/contacts/detail/{contact_id}``."""
    if not amocrm_base_url or contact_id is None:
        return None
    return f"{amocrm_base_url.rstrip('/')}/contacts/detail/{contact_id}"

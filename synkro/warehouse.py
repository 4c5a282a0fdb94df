"""Small reads of a tenant's raw warehouse tables needed to drive other loads.

Kept separate from the control plane: these tables live in the tenant's warehouse (maybe its own
Supabase), written by dlt, and the only consumer today is the Radist load, which must know the
phones of the tenant's amoCRM contacts to pick the matching dialogs.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from synkro.loading import dataset_name


def known_phones(conn: psycopg.Connection, slug: str) -> set[str]:
    """E.164 phones of the tenant's amoCRM contacts that are not deleted; empty before the first load."""
    schema = dataset_name(slug)
    exists = conn.execute(
        "select to_regclass(%s) is not null and to_regclass(%s) is not null",
        (f'"{schema}".amocrm_contact_phones', f'"{schema}".amocrm_contacts'),
    ).fetchone()
    if not exists or not exists[0]:
        return set()
    query = sql.SQL(
        "select distinct p.phone_e164 from {phones} p join {contacts} c on c.id = p.contact_id "
        "where p.phone_e164 is not null and p.phone_valid and not coalesce(c.is_deleted, false)"
    ).format(
        phones=sql.Identifier(schema, "amocrm_contact_phones"),
        contacts=sql.Identifier(schema, "amocrm_contacts"),
    )
    return {row[0] for row in conn.execute(query)}

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
    """Every E.164 number in the phone values of the tenant's amoCRM contacts that are not deleted
    (a value may hold several: `phone_numbers`); empty before the first load.

    Rows loaded before `phone_numbers` existed still count by their `phone_e164`.
    """
    schema = dataset_name(slug)
    exists = conn.execute(
        "select to_regclass(%s) is not null and to_regclass(%s) is not null",
        (f'"{schema}".amocrm_contact_phones', f'"{schema}".amocrm_contacts'),
    ).fetchone()
    if not exists or not exists[0]:
        return set()
    has_numbers = conn.execute(
        "select exists (select 1 from information_schema.columns "
        "where table_schema = %s and table_name = 'amocrm_contact_phones' and column_name = 'phone_numbers')",
        (schema,),
    ).fetchone()[0]
    numbers = sql.SQL("coalesce(p.phone_numbers, p.phone_e164)" if has_numbers else "p.phone_e164")
    query = sql.SQL(
        "select distinct n from {phones} p join {contacts} c on c.id = p.contact_id, "
        "regexp_split_to_table({numbers}, ' ') as n "
        "where p.phone_valid and n <> '' and not coalesce(c.is_deleted, false)"
    ).format(
        phones=sql.Identifier(schema, "amocrm_contact_phones"),
        contacts=sql.Identifier(schema, "amocrm_contacts"),
        numbers=numbers,
    )
    return {row[0] for row in conn.execute(query)}

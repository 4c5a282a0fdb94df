-- Lead ↔ contact links (a lead has several contacts, a contact several leads).
with raw as (
    {{ relation_or_empty(source('raw', 'amocrm_lead_contacts'), [
        ('lead_id', 'bigint'), ('contact_id', 'bigint'), ('is_main', 'boolean'),
    ]) }}
)

select
    lead_id,
    contact_id,
    bool_or(coalesce(is_main, false)) as is_main
from raw
where lead_id is not null and contact_id is not null
group by lead_id, contact_id

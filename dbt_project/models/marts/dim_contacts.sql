-- amoCRM contacts (not deleted) with their primary phone, how many numbers their phone values hold
-- (every one is a matching key) and the lead their dialogs belong to.
with phones as (
    select
        contact_id,
        (array_agg(phone_e164 order by position) filter (where phone_e164 is not null))[1] as phone_e164,
        count(*) filter (where phone_e164 is not null) as valid_phones,
        count(*) as phones_total
    from {{ ref('stg_amocrm__contact_phones') }}
    group by contact_id
),

numbers as (
    select contact_id, count(*) as phone_numbers
    from {{ ref('int_amocrm__contact_phone_numbers') }}
    group by contact_id
)

select
    c.contact_id::bigint as contact_id,
    c.contact_name::text as contact_name,
    c.responsible_user_id::bigint as responsible_user_id,
    p.phone_e164::text as phone_e164,
    coalesce(p.valid_phones, 0)::integer as valid_phones,
    coalesce(p.phones_total, 0)::integer as phones_total,
    coalesce(n.phone_numbers, 0)::integer as phone_numbers,
    cl.lead_id::bigint as lead_id,
    c.created_at::timestamptz as created_at,
    c.updated_at::timestamptz as updated_at
from {{ ref('stg_amocrm__contacts') }} as c
left join phones as p on p.contact_id = c.contact_id
left join numbers as n on n.contact_id = c.contact_id
left join {{ ref('int_amocrm__contact_leads') }} as cl on cl.contact_id = c.contact_id

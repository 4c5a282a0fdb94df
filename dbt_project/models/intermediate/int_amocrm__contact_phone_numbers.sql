-- The matching keys: one row per contact and valid number, whichever of the contact's phone values
-- it was typed in (a value may hold several numbers; the same number typed twice counts once, at
-- its first value). The raw value is kept so an owner can see what the manager typed.
with numbers as (
    select
        p.contact_id,
        p.position,
        p.phone_raw,
        n.phone_e164,
        n.number_index
    from {{ ref('stg_amocrm__contact_phones') }} as p
    cross join lateral unnest(string_to_array(p.phone_numbers, ' '))
        with ordinality as n (phone_e164, number_index)
    where p.phone_numbers is not null and n.phone_e164 <> ''
),

ranked as (
    select
        *,
        row_number() over (partition by contact_id, phone_e164 order by position, number_index) as seen
    from numbers
)

select
    contact_id,
    phone_e164,
    position,
    number_index::integer as number_index,
    phone_raw
from ranked
where seen = 1

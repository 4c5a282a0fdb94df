-- One row per phone value of a contact. `phone_e164` is the loader's first number of the value and
-- `phone_numbers` every number it found (space-separated E.164; a value may hold several); a phone
-- the loader never evaluated, or loaded before `phone_numbers` existed, falls back to the one
-- number of the `phone_e164` macro.
with raw as (
    {{ relation_or_empty(source('raw', 'amocrm_contact_phones'), [
        ('contact_id', 'bigint'), ('position', 'integer'), ('phone_raw', 'text'), ('phone_e164', 'text'),
        ('phone_valid', 'boolean'), ('phone_numbers', 'text'), ('enum_code', 'text'),
    ]) }}
),

latest as (
    select
        *,
        row_number() over (partition by contact_id, position order by _dlt_load_id desc) as version_rank
    from raw
    where contact_id is not null
)

select
    contact_id,
    coalesce(position, 0) as position,
    phone_raw,
    {{ phone_e164('phone_e164', 'phone_raw', 'phone_valid') }} as phone_e164,
    coalesce(phone_valid, {{ phone_e164('phone_e164', 'phone_raw', 'phone_valid') }} is not null) as phone_valid,
    coalesce(
        nullif(trim(phone_numbers), ''), {{ phone_e164('phone_e164', 'phone_raw', 'phone_valid') }}
    ) as phone_numbers,
    upper(nullif(trim(enum_code), '')) as enum_code
from latest
where version_rank = 1

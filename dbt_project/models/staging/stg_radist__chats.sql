-- Radist chats. `radist_contact_id` is Radist's own contact id, unrelated to amoCRM ids.
with raw as (
    {{ relation_or_empty(source('raw', 'radist_chats'), [
        ('chat_id', 'bigint'), ('contact_id', 'bigint'), ('contact_name', 'text'), ('connection_id', 'bigint'),
        ('channel', 'text'), ('phone_raw', 'text'), ('phone_e164', 'text'), ('phone_valid', 'boolean'),
        ('created_at', 'timestamptz'), ('last_message_at', 'timestamptz'),
    ]) }}
),

latest as (
    select
        *,
        row_number() over (
            partition by chat_id order by last_message_at desc nulls last, _dlt_load_id desc
        ) as version_rank
    from raw
    where chat_id is not null
)

select
    chat_id,
    contact_id as radist_contact_id,
    nullif(trim(contact_name), '') as contact_name,
    connection_id,
    lower(nullif(trim(channel), '')) as channel,
    phone_raw,
    {{ phone_e164('phone_e164', 'phone_raw', 'phone_valid') }} as phone_e164,
    created_at,
    last_message_at,
    _dlt_load_id as source_load_id
from latest
where version_rank = 1

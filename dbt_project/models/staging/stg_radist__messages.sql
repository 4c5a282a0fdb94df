-- Radist messages, one row per message_id (the latest load wins, e.g. after a delivery-status
-- change). `attachments` becomes a jsonb array (empty when none) whatever type dlt stored.
with raw as (
    {{ relation_or_empty(source('raw', 'radist_messages'), [
        ('message_id', 'text'), ('chat_id', 'bigint'), ('sent_at', 'timestamptz'), ('direction', 'text'),
        ('message_type', 'text'), ('text', 'text'), ('attachments', 'text'), ('status', 'text'),
    ]) }}
),

latest as (
    select *, row_number() over (partition by message_id order by _dlt_load_id desc) as version_rank
    from raw
    where message_id is not null
)

select
    message_id,
    chat_id,
    sent_at,
    lower(trim(direction)) as direction,
    message_type,
    text,
    case
        when jsonb_typeof(nullif(attachments, '')::jsonb) = 'array' then nullif(attachments, '')::jsonb
        else '[]'::jsonb
    end as attachments,
    status,
    _dlt_load_id as source_load_id
from latest
where version_rank = 1

-- Contacts, typed and deduplicated; deleted contacts are dropped. amoCRM names may be empty strings,
-- so the display name falls back to first + last name.
with raw as (
    {{ relation_or_empty(source('raw', 'amocrm_contacts'), [
        ('id', 'bigint'), ('name', 'text'), ('first_name', 'text'), ('last_name', 'text'),
        ('responsible_user_id', 'bigint'), ('created_at', 'timestamptz'), ('updated_at', 'timestamptz'),
        ('is_deleted', 'boolean'),
    ]) }}
),

latest as (
    select
        *,
        row_number() over (
            partition by id order by updated_at desc nulls last, _dlt_load_id desc
        ) as version_rank
    from raw
    where id is not null
)

select
    id as contact_id,
    coalesce(
        nullif(trim(name), ''),
        nullif(trim(concat_ws(' ', nullif(trim(first_name), ''), nullif(trim(last_name), ''))), '')
    ) as contact_name,
    nullif(responsible_user_id, 0) as responsible_user_id,
    created_at,
    updated_at,
    _dlt_load_id as source_load_id
from latest
where version_rank = 1
  and not coalesce(is_deleted, false)

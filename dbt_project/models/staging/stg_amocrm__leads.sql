-- Leads, typed and deduplicated (latest version of each id wins); deleted leads are dropped here
-- so no mart can link a dialog to a lead that sits in the trash.
with raw as (
    {{ relation_or_empty(source('raw', 'amocrm_leads'), [
        ('id', 'bigint'), ('name', 'text'), ('price', 'numeric'), ('status_id', 'bigint'),
        ('pipeline_id', 'bigint'), ('responsible_user_id', 'bigint'), ('created_at', 'timestamptz'),
        ('updated_at', 'timestamptz'), ('closed_at', 'timestamptz'), ('is_deleted', 'boolean'),
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
    id as lead_id,
    nullif(trim(name), '') as lead_name,
    coalesce(price, 0) as price,
    status_id,
    pipeline_id,
    nullif(responsible_user_id, 0) as responsible_user_id,
    created_at,
    updated_at,
    closed_at,
    _dlt_load_id as source_load_id
from latest
where version_rank = 1
  and not coalesce(is_deleted, false)

-- Pipeline stages. The key is (pipeline_id, status_id) because the system stages 142 (won) and
-- 143 (lost) exist in every pipeline. The stage type is taken from the raw `type`, and 142/143 are
-- forced to won/lost whatever the loader wrote, as amoCRM defines them so.
with raw as (
    {{ relation_or_empty(source('raw', 'amocrm_statuses'), [
        ('pipeline_id', 'bigint'), ('id', 'bigint'), ('name', 'text'), ('sort', 'integer'), ('type', 'text'),
    ]) }}
),

latest as (
    select *, row_number() over (partition by pipeline_id, id order by _dlt_load_id desc) as version_rank
    from raw
    where id is not null
)

select
    pipeline_id,
    id as status_id,
    name as status_name,
    sort,
    case
        when id = 142 then 'won'
        when id = 143 then 'lost'
        when lower(type) in ('won', 'lost') then lower(type)
        else 'open'
    end as status_type
from latest
where version_rank = 1

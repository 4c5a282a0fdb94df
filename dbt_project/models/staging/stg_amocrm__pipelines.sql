-- Sales pipelines (names for dim_leads).
with raw as (
    {{ relation_or_empty(source('raw', 'amocrm_pipelines'), [
        ('id', 'bigint'), ('name', 'text'), ('sort', 'integer'), ('is_main', 'boolean'),
    ]) }}
),

latest as (
    select *, row_number() over (partition by id order by _dlt_load_id desc) as version_rank
    from raw
    where id is not null
)

select
    id as pipeline_id,
    name as pipeline_name,
    sort,
    coalesce(is_main, false) as is_main
from latest
where version_rank = 1

-- Account users (the managers leads and contacts are assigned to).
with raw as (
    {{ relation_or_empty(source('raw', 'amocrm_users'), [
        ('id', 'bigint'), ('name', 'text'), ('email', 'text'),
    ]) }}
),

latest as (
    select *, row_number() over (partition by id order by _dlt_load_id desc) as version_rank
    from raw
    where id is not null
)

select
    id as user_id,
    nullif(trim(name), '') as user_name,
    nullif(trim(email), '') as email
from latest
where version_rank = 1

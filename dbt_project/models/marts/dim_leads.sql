-- amoCRM leads (not deleted) with stage and pipeline names, outcome, manager and main contact.
with main_contact as (
    select distinct on (lc.lead_id) lc.lead_id, lc.contact_id
    from {{ ref('stg_amocrm__lead_contacts') }} as lc
    inner join {{ ref('stg_amocrm__contacts') }} as c on c.contact_id = lc.contact_id
    order by lc.lead_id, lc.is_main desc, lc.contact_id
)

select
    l.lead_id::bigint as lead_id,
    l.lead_name::text as lead_name,
    l.price::numeric as price,
    l.pipeline_id::bigint as pipeline_id,
    p.pipeline_name::text as pipeline_name,
    l.status_id::bigint as status_id,
    s.status_name::text as status_name,
    coalesce(
        s.status_type,
        case when l.status_id = 142 then 'won' when l.status_id = 143 then 'lost' else 'open' end
    )::text as status_type,
    (l.status_id = 142 or s.status_type = 'won')::boolean as is_won,
    (l.status_id = 143 or s.status_type = 'lost')::boolean as is_lost,
    l.responsible_user_id::bigint as responsible_user_id,
    m.manager_name::text as manager_name,
    mc.contact_id::bigint as main_contact_id,
    l.created_at::timestamptz as created_at,
    l.updated_at::timestamptz as updated_at,
    l.closed_at::timestamptz as closed_at
from {{ ref('stg_amocrm__leads') }} as l
left join {{ ref('stg_amocrm__pipelines') }} as p on p.pipeline_id = l.pipeline_id
left join {{ ref('stg_amocrm__statuses') }} as s on s.pipeline_id = l.pipeline_id and s.status_id = l.status_id
left join {{ ref('dim_managers') }} as m on m.user_id = l.responsible_user_id
left join main_contact as mc on mc.lead_id = l.lead_id

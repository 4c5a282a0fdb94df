-- Managers: amoCRM users, plus any user id that leads or contacts point at but the users table
-- lacks (the users endpoint needs admin rights), so relationships from the facts always resolve.
with referenced as (
    select responsible_user_id as user_id from {{ ref('stg_amocrm__leads') }}
    union
    select responsible_user_id from {{ ref('stg_amocrm__contacts') }}
    union
    select user_id from {{ ref('stg_amocrm__users') }}
)

select
    r.user_id::bigint as user_id,
    coalesce(u.user_name, 'User ' || r.user_id)::text as manager_name,
    u.email::text as email,
    (u.user_id is not null)::boolean as is_known_user
from referenced as r
left join {{ ref('stg_amocrm__users') }} as u on u.user_id = r.user_id
where r.user_id is not null

-- One row per dialog (= Radist chat): its match to contact / lead / manager and its response times.
-- The manager is the lead's responsible user, else the contact's.
with matches as (
    select * from {{ ref('int_radist__dialog_matches') }}
),

message_stats as (
    select
        dialog_id,
        min(sent_at) as first_message_at,
        max(sent_at) as last_message_at,
        count(*) as messages_total,
        count(*) filter (where direction = 'inbound') as messages_inbound,
        count(*) filter (where direction = 'outbound') as messages_outbound,
        percentile_cont(0.5) within group (order by response_seconds)
            filter (where starts_turn and response_seconds is not null) as median_response_seconds,
        percentile_cont(0.5) within group (order by response_working_seconds)
            filter (where starts_turn and response_working_seconds is not null)
            as median_response_working_seconds
    from {{ ref('int_radist__message_turns') }}
    group by dialog_id
),

first_turn as (
    select distinct on (dialog_id)
        dialog_id,
        response_seconds as first_response_seconds,
        response_working_seconds as first_response_working_seconds
    from {{ ref('int_radist__message_turns') }}
    where starts_turn
    order by dialog_id, sent_at, message_id
),

last_message as (
    select distinct on (dialog_id) dialog_id, direction as last_direction
    from {{ ref('int_radist__message_turns') }}
    order by dialog_id, sent_at desc, message_id desc
),

last_turn as (
    select distinct on (dialog_id) dialog_id, sent_at as last_turn_started_at
    from {{ ref('int_radist__message_turns') }}
    where starts_turn
    order by dialog_id, sent_at desc, message_id desc
)

select
    m.dialog_id::bigint as dialog_id,
    m.chat_id::bigint as chat_id,
    m.contact_id::bigint as contact_id,
    m.lead_id::bigint as lead_id,
    coalesce(l.responsible_user_id, c.responsible_user_id)::bigint as responsible_user_id,
    mgr.manager_name::text as manager_name,
    m.phone_e164::text as phone_e164,
    m.channel::text as channel,
    m.match_status::text as match_status,
    s.first_message_at::timestamptz as first_message_at,
    s.last_message_at::timestamptz as last_message_at,
    coalesce(s.messages_total, 0)::integer as messages_total,
    coalesce(s.messages_inbound, 0)::integer as messages_inbound,
    coalesce(s.messages_outbound, 0)::integer as messages_outbound,
    ft.first_response_seconds::double precision as first_response_seconds,
    s.median_response_seconds::double precision as median_response_seconds,
    coalesce(lm.last_direction = 'inbound', false)::boolean as awaiting_reply,
    (case when lm.last_direction = 'inbound' then lt.last_turn_started_at end)::timestamptz as waiting_since,
    m.candidate_contacts::integer as candidate_contacts,
    ft.first_response_working_seconds::double precision as first_response_working_seconds,
    s.median_response_working_seconds::double precision as median_response_working_seconds
from matches as m
left join message_stats as s on s.dialog_id = m.dialog_id
left join first_turn as ft on ft.dialog_id = m.dialog_id
left join last_message as lm on lm.dialog_id = m.dialog_id
left join last_turn as lt on lt.dialog_id = m.dialog_id
left join {{ ref('stg_amocrm__leads') }} as l on l.lead_id = m.lead_id
left join {{ ref('stg_amocrm__contacts') }} as c on c.contact_id = m.contact_id
left join {{ ref('dim_managers') }} as mgr
    on mgr.user_id = coalesce(l.responsible_user_id, c.responsible_user_id)

{{
    config(
        materialized='incremental',
        unique_key=['dialog_id', 'business_date'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns'
    )
}}
-- One row per dialog and business day with activity, in the tenant's timezone (see the
-- business_date macro: the day runs from one local boundary, default 22:01, to the next; DST-aware).
--
-- A turn belongs to the day its first message falls in; its response may come on a later day
-- (a night gap counts in full). `left_waiting` says whether the dialog's last message at the day's
-- end was inbound.
--
-- Incremental: only dialogs with messages from loads newer than this table's newest load are
-- recomputed, and only from the business day of the last turn that started before their earliest
-- new message (a new reply can answer that turn) onwards. Other days keep their rows untouched.
-- A change of the tenant's timezone or boundary needs `--full-refresh`.
with turns as (
    select * from {{ ref('int_radist__message_turns') }}
),

{% if is_incremental() %}
new_messages as (
    select dialog_id, min(sent_at) as earliest_new_at
    from turns
    where source_load_id::numeric > (select coalesce(max(source_load_id::numeric), -1) from {{ this }})
    group by dialog_id
),

recompute_from as (
    select
        n.dialog_id,
        least(
            {{ business_date('n.earliest_new_at') }},
            coalesce(
                (
                    select max(t.business_date) from turns as t
                    where t.dialog_id = n.dialog_id and t.starts_turn and t.sent_at <= n.earliest_new_at
                ),
                {{ business_date('n.earliest_new_at') }}
            )
        ) as from_date
    from new_messages as n
),

scoped as (
    select t.*
    from turns as t
    inner join recompute_from as r on r.dialog_id = t.dialog_id and t.business_date >= r.from_date
),
{% else %}
scoped as (
    select * from turns
),
{% endif %}

days as (
    select
        dialog_id,
        business_date,
        count(*) as messages_total,
        count(*) filter (where direction = 'inbound') as messages_inbound,
        count(*) filter (where direction = 'outbound') as messages_outbound,
        count(*) filter (where starts_turn) as turns_started,
        count(*) filter (where starts_turn and reply_at is not null) as turns_answered,
        min(sent_at) as first_message_at,
        max(sent_at) as last_message_at,
        max(source_load_id::numeric) as max_load_id,
        percentile_cont(0.5) within group (order by response_seconds)
            filter (where starts_turn and response_seconds is not null) as median_response_seconds,
        percentile_cont(0.5) within group (order by response_working_seconds)
            filter (where starts_turn and response_working_seconds is not null)
            as median_response_working_seconds
    from scoped
    group by dialog_id, business_date
),

first_turn as (
    select distinct on (dialog_id, business_date)
        dialog_id, business_date, response_seconds, response_working_seconds, sent_at
    from scoped
    where starts_turn
    order by dialog_id, business_date, sent_at, message_id
),

last_message as (
    select distinct on (dialog_id, business_date) dialog_id, business_date, direction
    from scoped
    order by dialog_id, business_date, sent_at desc, message_id desc
),

waiting as (
    -- start of the turn still open at the day's end: the last turn start of the dialog up to then
    select d.dialog_id, d.business_date, max(t.sent_at) as waiting_since
    from days as d
    inner join turns as t
        on t.dialog_id = d.dialog_id and t.starts_turn and t.business_date <= d.business_date
    group by d.dialog_id, d.business_date
)

select
    d.dialog_id::bigint as dialog_id,
    d.business_date::date as business_date,
    ({{ business_day_start('d.business_date') }})::timestamptz as day_start_at,
    ({{ business_day_end('d.business_date') }})::timestamptz as day_end_at,
    d.messages_total::integer as messages_total,
    d.messages_inbound::integer as messages_inbound,
    d.messages_outbound::integer as messages_outbound,
    d.turns_started::integer as turns_started,
    d.turns_answered::integer as turns_answered,
    ft.response_seconds::double precision as first_response_seconds,
    (lm.direction = 'inbound')::boolean as left_waiting,
    (case when lm.direction = 'inbound' then w.waiting_since end)::timestamptz as waiting_since,
    d.first_message_at::timestamptz as first_message_at,
    d.last_message_at::timestamptz as last_message_at,
    d.max_load_id::text as source_load_id,
    ft.response_working_seconds::double precision as first_response_working_seconds,
    d.median_response_seconds::double precision as median_response_seconds,
    d.median_response_working_seconds::double precision as median_response_working_seconds
from days as d
left join first_turn as ft on ft.dialog_id = d.dialog_id and ft.business_date = d.business_date
left join last_message as lm on lm.dialog_id = d.dialog_id and lm.business_date = d.business_date
left join waiting as w on w.dialog_id = d.dialog_id and w.business_date = d.business_date

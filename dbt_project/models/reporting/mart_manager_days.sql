-- Per manager and business day: the dialogs they were responsible for that had activity that day,
-- message counts, median first response and median reply time over the turns started that day
-- (raw and within working hours), dialogs left waiting at the day's end, and from the
-- analysis step the average score and the number of flagged dialogs (status ok only; the newest
-- analysis wins when a window was scored twice). An analysis counts for the day whose window it
-- overlaps. Dialogs with no manager (unmatched) form a row with responsible_user_id NULL.
-- Human corrections (source dialog_human_scores, one row per analysed window) give the average
-- with human values where they exist, and the dialogs corrected or disputed that day.
with days as (
    select
        dd.*,
        d.responsible_user_id,
        d.manager_name
    from {{ ref('fct_dialog_days') }} as dd
    inner join {{ ref('fct_dialogs') }} as d on d.dialog_id = dd.dialog_id
),

turn_medians as (
    -- every answered customer turn started that day counts once, for the dialog's manager
    select
        d.responsible_user_id,
        t.business_date,
        percentile_cont(0.5) within group (order by t.response_seconds) as median_response_seconds,
        percentile_cont(0.5) within group (order by t.response_working_seconds)
            as median_response_working_seconds
    from {{ ref('int_radist__message_turns') }} as t
    inner join {{ ref('fct_dialogs') }} as d on d.dialog_id = t.dialog_id::bigint
    where t.starts_turn and t.response_seconds is not null
    group by d.responsible_user_id, t.business_date
),

analyses_raw as (
    {{ relation_or_empty(source('analysis', 'dialog_analyses'), [
        ('tenant_slug', 'text'), ('dialog_id', 'text'), ('window_start', 'timestamptz'),
        ('window_end', 'timestamptz'), ('overall_score', 'integer'), ('risk_flags', 'jsonb'),
        ('status', 'text'), ('analyzed_at', 'timestamptz'),
    ], with_load_id=false) }}
),

analyses as (
    select distinct on (dialog_id, window_start, window_end)
        dialog_id, window_start, window_end, overall_score, risk_flags
    from analyses_raw
    where status = 'ok' and tenant_slug = '{{ synkro_tenant() }}'
    order by dialog_id, window_start, window_end, analyzed_at desc nulls last
),

human as (
    {{ relation_or_empty(source('analysis', 'dialog_human_scores'), [
        ('dialog_id', 'text'), ('window_start', 'timestamptz'), ('window_end', 'timestamptz'),
        ('corrected_overall', 'integer'), ('corrected_criteria', 'integer'),
        ('disputed_criteria', 'integer'),
    ], with_load_id=false) }}
),

scored_days as (
    select
        days.dialog_id,
        days.business_date,
        avg(a.overall_score) as score,
        avg(coalesce(h.corrected_overall, a.overall_score)) as corrected_score,
        bool_or(coalesce(h.corrected_criteria, 0) > 0) as corrected,
        bool_or(coalesce(h.disputed_criteria, 0) > 0) as disputed,
        bool_or(jsonb_typeof(a.risk_flags) = 'array' and jsonb_array_length(a.risk_flags) > 0) as flagged
    from days
    inner join analyses as a
        on a.dialog_id = days.dialog_id::text
       and a.window_start < days.day_end_at
       and a.window_end > days.day_start_at
    left join human as h
        on h.dialog_id = a.dialog_id
       and h.window_start = a.window_start
       and h.window_end = a.window_end
    group by days.dialog_id, days.business_date
)

select
    md5(coalesce(days.responsible_user_id::text, 'none') || '|' || days.business_date::text)::text
        as manager_day_id,
    days.responsible_user_id::bigint as responsible_user_id,
    coalesce(max(days.manager_name), 'Unassigned')::text as manager_name,
    days.business_date::date as business_date,
    count(*)::integer as dialogs,
    sum(days.messages_total)::integer as messages_total,
    sum(days.messages_inbound)::integer as messages_inbound,
    sum(days.messages_outbound)::integer as messages_outbound,
    (percentile_cont(0.5) within group (order by days.first_response_seconds)
        filter (where days.first_response_seconds is not null))::double precision as median_first_response_seconds,
    (count(*) filter (where days.left_waiting))::integer as dialogs_left_waiting,
    count(s.score)::integer as dialogs_scored,
    (avg(s.score))::double precision as average_score,
    (count(*) filter (where s.flagged))::integer as flagged_dialogs,
    (percentile_cont(0.5) within group (order by days.first_response_working_seconds)
        filter (where days.first_response_working_seconds is not null))::double precision
        as median_first_response_working_seconds,
    max(tm.median_response_seconds)::double precision as median_response_seconds,
    max(tm.median_response_working_seconds)::double precision as median_response_working_seconds,
    (avg(s.corrected_score))::double precision as average_score_corrected,
    (count(*) filter (where s.corrected))::integer as corrected_dialogs,
    (count(*) filter (where s.disputed))::integer as disputed_dialogs
from days
left join scored_days as s on s.dialog_id = days.dialog_id and s.business_date = days.business_date
left join turn_medians as tm
    on tm.responsible_user_id is not distinct from days.responsible_user_id
   and tm.business_date = days.business_date
group by days.responsible_user_id, days.business_date

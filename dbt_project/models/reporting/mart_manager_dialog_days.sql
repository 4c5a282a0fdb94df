{{ config(indexes=[{'columns': ['business_date', 'responsible_user_id']}]) }}
-- One row per dialog and business day with activity: the dialog's manager, the ISO week the day
-- falls in, the day's first response and left-waiting state, and the day's AI score. The trends
-- per manager (synkro/trends.py) aggregate these rows per week: a median over weeks cannot be
-- taken from daily medians, and a dialog active on three days is one dialog of the week, so the
-- weekly figures need this grain. Human corrections are applied when the trends are read (they
-- change between runs). Business dates are the tenant's local day labels, so the ISO week is the
-- tenant's week. The score rule is mart_manager_days': status ok, the newest analysis per window,
-- an analysis counts for every day its window overlaps.
with days as (
    select
        dd.*,
        d.responsible_user_id,
        d.manager_name
    from {{ ref('fct_dialog_days') }} as dd
    inner join {{ ref('fct_dialogs') }} as d on d.dialog_id = dd.dialog_id
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

scored_days as (
    select
        days.dialog_id,
        days.business_date,
        avg(a.overall_score) as score,
        bool_or(jsonb_typeof(a.risk_flags) = 'array' and jsonb_array_length(a.risk_flags) > 0) as flagged
    from days
    inner join analyses as a
        on a.dialog_id = days.dialog_id::text
       and a.window_start < days.day_end_at
       and a.window_end > days.day_start_at
    group by days.dialog_id, days.business_date
)

select
    md5(days.dialog_id::text || '|' || days.business_date::text)::text as dialog_day_id,
    days.dialog_id::bigint as dialog_id,
    days.business_date::date as business_date,
    date_trunc('week', days.business_date)::date as week_start,
    days.responsible_user_id::bigint as responsible_user_id,
    coalesce(days.manager_name, 'Unassigned')::text as manager_name,
    days.messages_total::integer as messages_total,
    days.first_response_seconds::double precision as first_response_seconds,
    days.left_waiting::boolean as left_waiting,
    s.score::double precision as ai_score,
    coalesce(s.flagged, false)::boolean as flagged
from days
left join scored_days as s on s.dialog_id = days.dialog_id and s.business_date = days.business_date

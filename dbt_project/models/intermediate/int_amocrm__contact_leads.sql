-- The one lead each contact's dialogs belong to: its most recently updated open lead, else its
-- latest closed lead ("latest" = most recently updated, like open ones: closed_at is often null or
-- rewritten by robots, updated_at is always there). A lead is closed when its stage is won/lost
-- (142/143 in every pipeline). Ties on the second go to the highest lead id. `lead_rank_at` is the
-- timestamp that decided the choice; the dialog match reuses it to rank contacts sharing a phone.
with leads as (
    select
        l.lead_id,
        l.updated_at,
        coalesce(s.status_type, case when l.status_id = 142 then 'won' when l.status_id = 143 then 'lost' else 'open' end)
            as status_type
    from {{ ref('stg_amocrm__leads') }} as l
    left join {{ ref('stg_amocrm__statuses') }} as s
        on s.pipeline_id = l.pipeline_id and s.status_id = l.status_id
),

candidates as (
    select
        lc.contact_id,
        leads.lead_id,
        leads.status_type = 'open' as is_open,
        leads.updated_at as lead_rank_at
    from {{ ref('stg_amocrm__lead_contacts') }} as lc
    inner join leads on leads.lead_id = lc.lead_id
),

ranked as (
    select
        *,
        row_number() over (
            partition by contact_id
            order by is_open desc, lead_rank_at desc nulls last, lead_id desc
        ) as preference
    from candidates
)

select
    contact_id,
    lead_id,
    is_open as lead_is_open,
    lead_rank_at
from ranked
where preference = 1

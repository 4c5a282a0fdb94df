-- inbound + outbound = total on dialogs and dialog days, and the per-dialog and per-day totals
-- agree with the messages mart they summarise.
with dialog_counts as (
    select dialog_id, count(*) as messages
    from {{ ref('fct_dialog_messages') }}
    group by dialog_id
),

day_counts as (
    select dialog_id, sum(messages_total) as messages
    from {{ ref('fct_dialog_days') }}
    group by dialog_id
)

select d.dialog_id, 'fct_dialogs: inbound + outbound <> total' as problem
from {{ ref('fct_dialogs') }} as d
where d.messages_inbound + d.messages_outbound <> d.messages_total

union all

select d.dialog_id, 'fct_dialogs.messages_total <> messages in fct_dialog_messages'
from {{ ref('fct_dialogs') }} as d
left join dialog_counts as c on c.dialog_id = d.dialog_id
where d.messages_total <> coalesce(c.messages, 0)

union all

select dd.dialog_id, 'fct_dialog_days: inbound + outbound <> total'
from {{ ref('fct_dialog_days') }} as dd
where dd.messages_inbound + dd.messages_outbound <> dd.messages_total

union all

select d.dialog_id, 'sum of fct_dialog_days.messages_total <> fct_dialogs.messages_total'
from {{ ref('fct_dialogs') }} as d
left join day_counts as c on c.dialog_id = d.dialog_id
where d.messages_total <> coalesce(c.messages, 0)

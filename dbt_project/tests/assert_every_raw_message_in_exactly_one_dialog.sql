-- Reconciles fct_dialog_messages with raw: every raw message (with a chat) appears exactly once,
-- in a dialog that exists in fct_dialogs, and nothing appears that raw does not hold.
with raw_messages as (
    select distinct message_id, chat_id
    from (
        {{ relation_or_empty(source('raw', 'radist_messages'), [('message_id', 'text'), ('chat_id', 'bigint')]) }}
    ) as r
    where message_id is not null and chat_id is not null
),

mart as (
    select message_id, count(*) as copies, count(distinct dialog_id) as dialogs, min(dialog_id) as dialog_id
    from {{ ref('fct_dialog_messages') }}
    group by message_id
)

select
    coalesce(r.message_id, m.message_id) as message_id,
    case
        when m.message_id is null then 'missing from fct_dialog_messages'
        when r.message_id is null then 'not in raw'
        when m.copies <> 1 then 'duplicated'
        when m.dialog_id <> r.chat_id then 'in the wrong dialog'
        when not exists (select 1 from {{ ref('fct_dialogs') }} as d where d.dialog_id = m.dialog_id)
            then 'dialog missing from fct_dialogs'
    end as problem
from raw_messages as r
full outer join mart as m on m.message_id = r.message_id
where m.message_id is null
   or r.message_id is null
   or m.copies <> 1
   or m.dialog_id <> r.chat_id
   or not exists (select 1 from {{ ref('fct_dialogs') }} as d where d.dialog_id = m.dialog_id)

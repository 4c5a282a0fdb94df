-- Every message with its place in the conversation's turns.
-- A customer turn starts at the first of consecutive inbound messages (a burst is one turn); the
-- reply is the next outbound message after the turn start (whoever of the company sends it: any
-- manager's reply ends the wait); response seconds = reply − turn start, and
-- response_working_seconds the part of that wait inside the tenant's working hours
-- (macros/working_time.sql).
-- Messages are ordered by (sent_at, message_id) so ties are stable.
with messages as (
    select
        *,
        lag(direction) over (partition by chat_id order by sent_at, message_id) as previous_direction
    from {{ ref('stg_radist__messages') }}
    where chat_id is not null
),

marked as (
    select
        *,
        direction = 'inbound' and previous_direction is distinct from 'inbound' as starts_turn,
        min(case when direction = 'outbound' then sent_at end) over (
            partition by chat_id order by sent_at, message_id
            rows between 1 following and unbounded following
        ) as next_outbound_at
    from messages
)

select
    message_id,
    chat_id as dialog_id,
    sent_at,
    {{ business_date('sent_at') }} as business_date,
    direction,
    message_type,
    text,
    attachments,
    status,
    source_load_id,
    starts_turn,
    case when starts_turn then next_outbound_at end as reply_at,
    case
        when starts_turn then extract(epoch from next_outbound_at - sent_at)::double precision
    end as response_seconds,
    case
        when starts_turn and next_outbound_at is not null then {{ working_seconds('sent_at', 'next_outbound_at') }}
    end as response_working_seconds
from marked

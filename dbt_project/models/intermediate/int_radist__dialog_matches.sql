-- Dialog ↔ contact ↔ lead match, on the E.164 phone. Rules:
--   1. A chat matches the (not deleted) amoCRM contacts that carry its phone among the numbers of
--      their phone values (int_amocrm__contact_phone_numbers: every number of every value).
--   2. One contact → `matched`. Several contacts → `ambiguous`, and the chat goes to the contact
--      with the most recently updated open lead; if none of them has an open lead, to the one with
--      the most recently updated closed lead; contacts without leads come last; remaining ties go
--      to the lowest contact id.
--   3. A matched contact's dialog belongs to that contact's most recently updated open lead, else
--      its latest closed lead (int_amocrm__contact_leads); a contact without leads gives lead NULL.
--   4. A chat with no phone, or whose phone no contact carries, stays in the marts as `unmatched`.
-- Dialogs are every chat plus any chat id seen only on messages, so no message is ever dropped.
with dialogs as (
    select chat_id from {{ ref('stg_radist__chats') }}
    union
    select distinct chat_id from {{ ref('stg_radist__messages') }} where chat_id is not null
),

chats as (
    select d.chat_id, c.phone_e164, c.channel
    from dialogs as d
    left join {{ ref('stg_radist__chats') }} as c on c.chat_id = d.chat_id
),

contact_phones as (
    select p.contact_id, p.phone_e164
    from {{ ref('int_amocrm__contact_phone_numbers') }} as p
    inner join {{ ref('stg_amocrm__contacts') }} as c on c.contact_id = p.contact_id
),

candidates as (
    select
        chats.chat_id,
        cp.contact_id,
        cl.lead_id,
        cl.lead_is_open,
        cl.lead_rank_at
    from chats
    inner join contact_phones as cp on cp.phone_e164 = chats.phone_e164
    left join {{ ref('int_amocrm__contact_leads') }} as cl on cl.contact_id = cp.contact_id
),

ranked as (
    select
        *,
        count(*) over (partition by chat_id) as candidate_count,
        row_number() over (
            partition by chat_id
            order by
                lead_is_open desc nulls last,
                lead_rank_at desc nulls last,
                contact_id
        ) as preference
    from candidates
)

select
    chats.chat_id as dialog_id,
    chats.chat_id,
    chats.phone_e164,
    chats.channel,
    ranked.contact_id,
    ranked.lead_id,
    coalesce(ranked.candidate_count, 0)::integer as candidate_contacts,
    case
        when ranked.contact_id is null then 'unmatched'
        when ranked.candidate_count > 1 then 'ambiguous'
        else 'matched'
    end as match_status
from chats
left join ranked on ranked.chat_id = chats.chat_id and ranked.preference = 1

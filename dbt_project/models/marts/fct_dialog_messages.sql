{{
    config(
        materialized='incremental',
        unique_key='message_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns'
    )
}}
-- Every message of every dialog. Incremental on the dlt load id: a run only touches messages that
-- arrived (or changed, e.g. delivery status) in loads newer than the newest one already here, so a
-- re-run without new loads changes nothing.
select
    message_id::text as message_id,
    dialog_id::bigint as dialog_id,
    sent_at::timestamptz as sent_at,
    business_date::date as business_date,
    direction::text as direction,
    message_type::text as message_type,
    text::text as text,
    attachments::jsonb as attachments,
    status::text as status,
    source_load_id::text as source_load_id
from {{ ref('int_radist__message_turns') }}
{% if is_incremental() %}
where source_load_id::numeric > (
    select coalesce(max(source_load_id::numeric), -1) from {{ this }}
)
{% endif %}

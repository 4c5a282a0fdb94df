-- Matching quality (warns): dialogs whose chat matches no amoCRM contact, with the reason.
{{ config(severity='warn') }}

select
    dialog_id,
    {{ mask_phone('phone_e164') }} as phone_masked,
    case when phone_e164 is null then 'chat has no valid phone' else 'no contact carries the number' end
        as reason
from {{ ref('int_radist__dialog_matches') }}
where match_status = 'unmatched'

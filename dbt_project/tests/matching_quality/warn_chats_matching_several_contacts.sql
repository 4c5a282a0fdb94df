-- Matching quality (warns): dialogs whose phone several contacts carry (ambiguous; the preferred
-- contact was chosen by the rules in int_radist__dialog_matches).
{{ config(severity='warn') }}

select dialog_id, {{ mask_phone('phone_e164') }} as phone_masked, candidate_contacts, contact_id
from {{ ref('int_radist__dialog_matches') }}
where match_status = 'ambiguous'

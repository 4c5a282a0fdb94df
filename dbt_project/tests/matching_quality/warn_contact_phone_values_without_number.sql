-- Matching quality (warns, never fails a build): phone values of (non-deleted) contacts that
-- yield no valid number, so the owner can fix them in amoCRM. One row per value, phone masked.
{{ config(severity='warn') }}

select p.contact_id, p.position, {{ mask_phone('p.phone_raw') }} as phone_masked
from {{ ref('stg_amocrm__contact_phones') }} as p
inner join {{ ref('stg_amocrm__contacts') }} as c on c.contact_id = p.contact_id
where p.phone_numbers is null

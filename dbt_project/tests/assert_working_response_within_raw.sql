-- Working-hours response time is a part of the raw one: present exactly when the raw one is,
-- never negative, never longer than the wait itself.
select message_id, response_seconds, response_working_seconds
from {{ ref('int_radist__message_turns') }}
where (response_seconds is null) <> (response_working_seconds is null)
   or response_working_seconds < 0
   or response_working_seconds > response_seconds + 0.001

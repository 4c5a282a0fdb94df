{#
  Business days in the tenant's timezone.

  A business day is the 24-hour (23/25 on DST changes) window between two consecutive local
  boundaries (var day_boundary, default 22:01). It is labelled with the calendar date that holds
  most of the window: for an evening boundary (after 12:00) that is the date the window ends on
  (22:01 on the 29th .. 22:01 on the 30th is "the 30th", the day a 22:01 report covers); for a
  morning or midnight boundary it is the date the window starts on.

  All arithmetic happens on local wall-clock time (`AT TIME ZONE`), so windows follow DST: the
  boundary stays at 22:01 local while the UTC instant moves.
#}

{% macro business_day_offset() -%}
  {{ 1 if (synkro_boundary_minutes() | int) > 720 else 0 }}
{%- endmacro %}

{% macro boundary_interval() -%}
  interval '{{ synkro_boundary_minutes() }} minutes'
{%- endmacro %}

{# timestamptz -> date label of the business day it falls in #}
{% macro business_date(ts) -%}
  ((({{ ts }}) at time zone '{{ synkro_timezone() }}') - {{ boundary_interval() }})::date + {{ business_day_offset() }}
{%- endmacro %}

{# date label -> timestamptz where that business day starts #}
{% macro business_day_start(day) -%}
  ((({{ day }}) - {{ business_day_offset() }})::timestamp + {{ boundary_interval() }}) at time zone '{{ synkro_timezone() }}'
{%- endmacro %}

{# date label -> timestamptz where that business day ends (= start of the next one) #}
{% macro business_day_end(day) -%}
  {{ business_day_start('(' ~ day ~ ') + 1') }}
{%- endmacro %}

{#
  Working time: the seconds of an interval that fall within the tenant's working hours.

  One rule, one owner: a Postgres function `<tenant>_marts.working_seconds(...)` created (replaced)
  at the start of every dbt invocation. The marts call it through `working_seconds(from, to)`
  below, which passes the tenant's calendar from --vars; the report (synkro/report/build.py)
  calls the same function with the tenant's settings for its own window. Why a function and not
  only a macro: the report's figures are counted within the report window in Python-issued SQL,
  and a macro cannot be called from there; a second implementation would drift.

  Rule: for every local calendar date between the two instants that is a working weekday and not a
  holiday, the overlap of [from, to) with [date + start, date + end) — both ends read as local
  wall-clock time in the tenant's zone (`AT TIME ZONE`), so a DST day still has its working hours
  at 09:00–18:00 local and an interval across a DST change is counted in real elapsed seconds.
  The day's end may be 24:00 (the next midnight). A night shift across midnight is not expressible
  (settings refuse end <= start).
#}

{% macro create_working_seconds_function() -%}
  {%- set tenant = synkro_tenant() -%}
  {%- if execute and tenant != '__none__' -%}
  create schema if not exists {{ tenant }}_marts;
  create or replace function {{ tenant }}_marts.working_seconds(
      from_at timestamptz,
      to_at timestamptz,
      zone text,
      day_start time,
      day_end time,
      weekdays integer[],
      holidays date[]
  ) returns double precision
  language sql stable parallel safe
  as $fn$
      select case
          when from_at is null or to_at is null then null
          when to_at <= from_at then 0::double precision
          else coalesce((
              select sum(extract(epoch from
                         least(to_at, (day.local_date + day_end) at time zone zone)
                         - greatest(from_at, (day.local_date + day_start) at time zone zone)))
              from generate_series(
                  0, (to_at at time zone zone)::date - (from_at at time zone zone)::date
              ) as n(offset_days)
              cross join lateral (
                  select (from_at at time zone zone)::date + n.offset_days as local_date
              ) as day
              where extract(isodow from day.local_date)::integer = any(weekdays)
                and not (day.local_date = any(coalesce(holidays, '{}'::date[])))
                and (day.local_date + day_end) at time zone zone > from_at
                and (day.local_date + day_start) at time zone zone < to_at
          ), 0)::double precision
      end
  $fn$;
  {%- endif -%}
{%- endmacro %}

{# The tenant's working hours "HH:MM-HH:MM" from --vars, validated: (start, end) as SQL time literals. #}
{% macro synkro_working_hours() -%}
  {%- set raw = var('working_hours') | string -%}
  {%- set m = modules.re.fullmatch('(([01][0-9]|2[0-3]):[0-5][0-9])-(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)', raw) -%}
  {%- if not m or m.group(3) <= m.group(1) -%}
    {{ exceptions.raise_compiler_error("var 'working_hours' must be HH:MM-HH:MM with end after start, got: " ~ raw) }}
  {%- endif -%}
  {{ return((m.group(1), m.group(3))) }}
{%- endmacro %}

{# The tenant's working weekdays "1,2,3,4,5" (ISO) from --vars, validated: a SQL integer[] literal. #}
{% macro synkro_working_days() -%}
  {%- set raw = var('working_days') | string -%}
  {%- if not modules.re.fullmatch('[1-7](,[1-7])*', raw) -%}
    {{ exceptions.raise_compiler_error("var 'working_days' must be ISO weekdays like 1,2,3,4,5, got: " ~ raw) }}
  {%- endif -%}
  array[{{ raw }}]::integer[]
{%- endmacro %}

{# The tenant's holidays "YYYY-MM-DD,..." from --vars, validated: a SQL date[] literal. #}
{% macro synkro_holidays() -%}
  {%- set raw = var('holidays', '') | string -%}
  {%- if raw and not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}(,[0-9]{4}-[0-9]{2}-[0-9]{2})*', raw) -%}
    {{ exceptions.raise_compiler_error("var 'holidays' must be YYYY-MM-DD dates separated by commas, got: " ~ raw) }}
  {%- endif -%}
  '{{ "{" ~ raw ~ "}" }}'::date[]
{%- endmacro %}

{# Working seconds between two timestamptz expressions, by the tenant's calendar (NULL if either is NULL). #}
{% macro working_seconds(from_at, to_at) -%}
  {%- set hours = synkro_working_hours() -%}
  {{ synkro_tenant() }}_marts.working_seconds(
    {{ from_at }}, {{ to_at }}, '{{ synkro_timezone() }}', time '{{ hours[0] }}', time '{{ hours[1] }}',
    {{ synkro_working_days() }}, {{ synkro_holidays() }})
{%- endmacro %}

{# `dbt run-operation install_working_seconds_function --vars ...`: the same function without a build
   (for a warehouse whose marts come from elsewhere, e.g. the report tests' hand-made marts). #}
{% macro install_working_seconds_function() -%}
  {%- do run_query(create_working_seconds_function()) -%}
{%- endmacro %}

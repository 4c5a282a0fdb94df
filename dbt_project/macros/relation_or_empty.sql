{#
  Select typed columns from a source table that may not exist yet, or may lack some columns.

  Why: dlt creates a table only once it has rows (a tenant without amoCRM admin rights never gets
  `amocrm_users`), and it creates a column only once some row has a non-null value in it (a
  tenant whose leads are all open has no `closed_at`). The analysis table likewise appears only
  after the first analysis run. Staging must still build, so a missing table becomes an empty,
  correctly typed relation and a missing column becomes a typed NULL.

  `columns` is a list of (column name, SQL type) pairs; `_dlt_load_id` is always included so the
  incremental marts can track loads.
#}
{% macro relation_or_empty(relation, columns, with_load_id=true) -%}
  {%- set existing = none -%}
  {%- set present = [] -%}
  {%- if execute -%}
    {%- set existing = adapter.get_relation(
          database=relation.database, schema=relation.schema, identifier=relation.identifier) -%}
    {%- if existing is not none -%}
      {%- for col in adapter.get_columns_in_relation(existing) -%}
        {%- do present.append(col.name | lower) -%}
      {%- endfor -%}
    {%- endif -%}
  {%- endif -%}
  {%- set all_columns = columns + ([('_dlt_load_id', 'text')] if with_load_id else []) -%}
  select
  {%- for name, type in all_columns %}
    {% if name in present -%}
      cast({{ adapter.quote(name) }} as {{ type }})
    {%- else -%}
      cast(null as {{ type }})
    {%- endif %} as {{ adapter.quote(name) }}{{ "," if not loop.last }}
  {%- endfor %}
  {% if existing is not none -%}
  from {{ existing }}
  {%- else -%}
  where false
  {%- endif %}
{%- endmacro %}

{#
  Fallback E.164 for a raw phone the loader did not evaluate (phone_valid is null), using the
  common rules for the tenant's region. The loader's own `phone_e164` (phonenumbers) always wins;
  a phone the loader judged invalid stays NULL, so SQL never overrules it.
#}
{% macro phone_e164(e164_col, raw_col, valid_col) -%}
  {%- set region = var('phone_region') | string | upper -%}
  case
    when {{ e164_col }} is not null and {{ e164_col }} <> '' then {{ e164_col }}
    when {{ valid_col }} is not null then null
    {%- if region in ['RU', 'KZ'] %}
    when length(regexp_replace({{ raw_col }}, '\D', '', 'g')) = 10
      then '+7' || regexp_replace({{ raw_col }}, '\D', '', 'g')
    when length(regexp_replace({{ raw_col }}, '\D', '', 'g')) = 11
         and left(regexp_replace({{ raw_col }}, '\D', '', 'g'), 1) in ('7', '8')
      then '+7' || substr(regexp_replace({{ raw_col }}, '\D', '', 'g'), 2)
    {%- endif %}
    when {{ raw_col }} ~ '^\s*\+[1-9][0-9\s().-]{7,20}$'
      then '+' || regexp_replace({{ raw_col }}, '\D', '', 'g')
    else null
  end
{%- endmacro %}

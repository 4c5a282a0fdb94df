{#
  Fails for every combination of `combination` columns that occurs more than once: the key test
  for marts keyed by several columns (dbt's `unique` takes one column; no package needed).
#}
{% test unique_combination(model, combination) %}
select {{ combination | join(', ') }}, count(*) as occurrences
from {{ model }}
group by {{ combination | join(', ') }}
having count(*) > 1
{% endtest %}

"""One tenant's dialogs as the portal shows them: the list (filters, risk order, pages, CSV) and
one dialog's page (transcript as the analysis saw it, metrics, verdicts).

The data lives in the tenant's warehouse (`<slug>_marts`, `<slug>_analysis`); these modules only
read it. The web routes (`synkro.web.routes.dialogs`) decide who may see what and pass the
manager scope down: a manager's queries carry their amoCRM user id in the WHERE clause.
"""

"""One module per portal area, each with an APIRouter named `router` (listed in app.ROUTE_MODULES)."""

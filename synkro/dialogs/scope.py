"""Whose dialogs a reader may see: everyone's, or only those of one amoCRM user.

Why a value of its own: the dialog page, the list and the CSV export must apply the same rule,
inside their SQL, so a manager's query can never return a colleague's row. A manager without an
amoCRM user sees no dialog at all (never everyone's).
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql


@dataclass(frozen=True)
class DialogScope:
    everyone: bool
    responsible_user_id: int | None = None

    @classmethod
    def all_dialogs(cls) -> DialogScope:
        return cls(everyone=True)

    @classmethod
    def of_user(cls, amocrm_user_id: int | None) -> DialogScope:
        return cls(everyone=False, responsible_user_id=amocrm_user_id)

    def condition(self, alias: str = "d") -> tuple[sql.Composable, dict[str, object]]:
        """A WHERE fragment over `<alias>.responsible_user_id` (fct_dialogs) and its parameters."""
        if self.everyone:
            return sql.SQL("true"), {}
        if self.responsible_user_id is None:
            return sql.SQL("false"), {}
        column = sql.Identifier(alias, "responsible_user_id")
        return sql.SQL("{} = %(scope_user)s").format(column), {"scope_user": self.responsible_user_id}

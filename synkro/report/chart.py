"""A PNG chart of the managers: average score and median first response (working hours when
known, as the text report), side by side.

Why a picture: a table of numbers in a chat is hard to compare; two bar charts show at a glance
who answers slowly and who scores low. Agg backend: no display on servers.
"""

from __future__ import annotations

import io

from synkro.report.model import Report
from synkro.report.render import manager_response_seconds


def manager_chart_png(report: Report) -> bytes | None:
    """PNG bytes, or None when there are no managers to draw."""
    managers = report.managers[:15]
    if not managers:
        return None
    # Imported here: matplotlib costs ~2 s at import, paid by every process loading the code location.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [m.manager_name[:24] for m in managers]
    scores = [m.average_score or 0 for m in managers]
    minutes = [(manager_response_seconds(report, m) or 0) / 60 for m in managers]
    height = max(2.5, 0.45 * len(names) + 1.2)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, height), sharey=True)
    try:
        ax1.barh(names, scores, color="#4c78a8")
        ax1.set_xlim(0, 100)
        ax1.set_title("Средняя оценка")
        ax1.invert_yaxis()
        ax2.barh(names, minutes, color="#f58518")
        which = "в рабочее время" if report.working_hours else "по часам"
        ax2.set_title(f"Медиана первого ответа {which}, мин")
        label = report.window.label or f"{report.window.start:%d.%m.%Y}"
        fig.suptitle(f"Менеджеры — {label}")
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        return buf.getvalue()
    finally:
        plt.close(fig)

"""Words of the trends per manager pages: the list of managers and one manager's weeks."""

MESSAGES = {
    "nav.managers": ("Менеджеры", "Managers"),
    "managers.title": ("Менеджеры по неделям", "Managers by week"),
    "managers.lead": (
        "{weeks} недель: с {first} по {last}. Число перед линией — последняя неделя.",
        "{weeks} weeks: {first} to {last}. The figure before each line is the last week's.",
    ),
    "managers.rules": (
        "Неделя — ISO (пн–вс) в часовом поясе компании; оценка — исправленная человеком, "
        "где есть исправление.",
        "Weeks are ISO weeks (Mon–Sun) in the company's time zone; scores are human-corrected "
        "where corrected.",
    ),
    "managers.none": (
        "Данных о диалогах пока нет: они появятся после первого запуска.",
        "No dialog data yet: it appears after the first run.",
    ),
    "managers.none.range": (
        "За последние {weeks} недель диалогов нет.",
        "No dialogs in the last {weeks} weeks.",
    ),
    "managers.manager.none": (
        "За последние {weeks} недель у этого менеджера нет диалогов.",
        "This manager has no dialogs in the last {weeks} weeks.",
    ),
    "managers.unassigned": ("Без менеджера", "Unassigned"),
    "managers.back": ("← Все менеджеры", "← All managers"),
    "managers.total_dialogs": ("диалогов за период: {n}", "dialogs in the period: {n}"),
    "managers.col.manager": ("Менеджер", "Manager"),
    "managers.col.last_week": ("посл. неделя", "last week"),
    "managers.col.week": ("Неделя", "Week"),
    "managers.col.corrected": ("Исправлено оценок", "Corrected verdicts"),
    "managers.col.disputed": ("Оспорено", "Disputed"),
    "managers.metric.dialogs": ("Диалоги", "Dialogs"),
    "managers.metric.first_response": ("Медиана первого ответа", "Median first response"),
    "managers.metric.score": ("Средняя оценка", "Average score"),
    "managers.metric.left_waiting": ("Без ответа", "Left waiting"),
    "managers.axis.week": ("Неделя (понедельник)", "Week (Monday)"),
    "managers.axis.dialogs": ("диалогов", "dialogs"),
    "managers.axis.first_response": ("время ответа", "response time"),
    "managers.axis.score": ("оценка 0–100", "score 0–100"),
    "managers.axis.left_waiting": ("диалогов", "dialogs"),
    "managers.chart.title": ("{metric} по неделям: {name}", "{metric} by week: {name}"),
    "managers.no_value": ("нет данных", "no data"),
    "managers.weeks": ("Недели с диалогами", "Weeks with dialogs"),
    "managers.scored": ("оценено {n}", "{n} scored"),
    "managers.best": ("Лучшие диалоги недели", "Best dialogs of the week"),
    "managers.best.lead": (
        "Примеры для разбора с командой: самые высокие оценки недели.",
        "Coaching examples: the week's highest scores.",
    ),
    "managers.best.dialog": ("Диалог {id}", "Dialog {id}"),
    "managers.best.corrected": ("исправлено", "corrected"),
    "managers.best.none": ("Оценённых диалогов за период нет.", "No scored dialogs in the period."),
    "managers.duration.seconds": ("{s} с", "{s} s"),
    "managers.duration.minutes": ("{m} мин", "{m} min"),
    "managers.duration.minutes_seconds": ("{m} мин {s} с", "{m} min {s} s"),
    "managers.duration.hours": ("{h} ч {m} мин", "{h} h {m} min"),
}

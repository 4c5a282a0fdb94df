"""Words of the reports pages: the tenant's report list and one report's document."""

MESSAGES = {
    "reports.title": ("Отчёты", "Reports"),
    "reports.none": (
        "Отчётов пока нет. Они появятся после первого запуска.",
        "No reports yet. They appear after the first run.",
    ),
    "reports.col.window": ("Период", "Window"),
    "reports.col.type": ("Вид", "Type"),
    "reports.col.status": ("Статус", "Status"),
    "reports.col.sent": ("Отправлен", "Sent"),
    "reports.col.summary": ("Кратко", "Summary"),
    "reports.type.daily": ("за день", "daily"),
    "reports.report.title": ("Отчёт за {period}", "Report for {period}"),
    "reports.report.back": ("← Все отчёты", "← All reports"),
    "reports.report.run": ("Запуск #{id}", "Run #{id}"),
    "reports.report.open": ("Открыть в новой вкладке", "Open in a new tab"),
    "reports.report.download": ("Скачать HTML", "Download HTML"),
    "reports.report.frame": ("Документ отчёта", "The report document"),
    "reports.report.no_document": (
        "У этого отчёта ещё нет документа.",
        "This report has no document yet.",
    ),
    "reports.report.error": ("Ошибка доставки: {error}", "Delivery error: {error}"),
}

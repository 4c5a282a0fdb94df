"""Human verdicts on a dialog's criteria (disputes, answers, overrides) and the calibration page."""

MESSAGES = {
    "verdicts.human_score": ("Оценка человека", "Human score"),
    "verdicts.ai_was": ("ИИ: {score}", "AI: {score}"),
    "verdicts.human_overall": ("с исправлениями людей: {score}", "with human corrections: {score}"),
    "verdicts.disputed": ("Оспорено", "Disputed"),
    "verdicts.dispute": ("Оспорить оценку", "Dispute this score"),
    "verdicts.reason": ("Почему оценка неверна", "Why the score is wrong"),
    "verdicts.dispute_hint": (
        "Руководитель увидит причину и примет или отклонит спор.",
        "Your lead sees the reason and accepts or rejects the dispute.",
    ),
    "verdicts.dispute_submit": ("Оспорить", "Dispute"),
    "verdicts.answer": ("Ответить на спор", "Answer the dispute"),
    "verdicts.corrected_score": ("Исправленная оценка (0–100)", "Corrected score (0–100)"),
    "verdicts.note_optional": ("Комментарий (необязательно)", "Note (optional)"),
    "verdicts.accept_submit": ("Принять", "Accept"),
    "verdicts.reject_note": ("Почему спор отклонён", "Why the dispute is rejected"),
    "verdicts.reject_submit": ("Отклонить", "Reject"),
    "verdicts.override": ("Исправить оценку", "Override the score"),
    "verdicts.new_score": ("Новая оценка (0–100)", "New score (0–100)"),
    "verdicts.override_note": ("Почему", "Why"),
    "verdicts.override_submit": ("Исправить", "Override"),
    "verdicts.history": ("История решений ({n})", "History ({n})"),
    "verdicts.kind.dispute": ("спор", "dispute"),
    "verdicts.kind.accept": ("спор принят", "dispute accepted"),
    "verdicts.kind.reject": ("спор отклонён", "dispute rejected"),
    "verdicts.kind.override": ("исправлено", "override"),
    "verdicts.done.dispute": ("Спор отправлен.", "Dispute sent."),
    "verdicts.done.accept": ("Спор принят, оценка исправлена.", "Dispute accepted, score corrected."),
    "verdicts.done.reject": ("Спор отклонён.", "Dispute rejected."),
    "verdicts.done.override": ("Оценка исправлена.", "Score overridden."),
    "verdicts.error.kind": ("Неизвестное действие.", "Unknown action."),
    "verdicts.error.role": ("Вашей роли это действие недоступно.", "Your role does not allow this action."),
    "verdicts.error.score": (
        "Нужна оценка — целое число от 0 до 100.",
        "Enter a score: a whole number from 0 to 100.",
    ),
    "verdicts.error.note": (
        "Нужен комментарий: объясните решение.",
        "A note is required: explain the decision.",
    ),
    "verdicts.error.note_long": (
        "Комментарий длиннее 2000 символов.",
        "The note is longer than 2000 characters.",
    ),
    "verdicts.error.no_dispute": (
        "Открытого спора по этому критерию нет — его уже разобрали.",
        "There is no open dispute on this criterion: it has been answered already.",
    ),
    "verdicts.error.already_disputed": (
        "Этот критерий уже оспорен и ждёт ответа.",
        "This criterion is disputed already and waits for an answer.",
    ),
}

MESSAGES |= {
    "calibration.nav": ("Калибровка", "Calibration"),
    "calibration.title": ("Калибровка рубрики", "Rubric calibration"),
    "calibration.lead": (
        "Как часто и насколько люди меняли оценки ИИ по каждому критерию. Критерий, который часто "
        "исправляют, стоит переформулировать.",
        "How often and by how much people changed the AI's scores, per criterion. A criterion that is "
        "often corrected is worth rewording.",
    ),
    "calibration.none": (
        "Оценки ещё никто не исправлял и не оспаривал.",
        "Nobody has corrected or disputed a score yet.",
    ),
    "calibration.criterion": ("Критерий", "Criterion"),
    "calibration.scored": ("Оценок ИИ", "AI scores"),
    "calibration.changed": ("Изменено людьми", "Changed by people"),
    "calibration.mean_change": ("Среднее изменение", "Mean change"),
    "calibration.mean_abs_change": ("Среднее |изменение|", "Mean |change|"),
    "calibration.disputes": ("Споры", "Disputes"),
    "calibration.overrides": ("Прямые исправления", "Overrides"),
    "calibration.dispute_counts": (
        "{n} (принято {accepted}, отклонено {rejected})",
        "{n} ({accepted} accepted, {rejected} rejected)",
    ),
    "calibration.examples": ("Примеры: {title}", "Examples: {title}"),
    "calibration.dialog": ("Диалог {id}", "Dialog {id}"),
    "calibration.ai_to_human": ("ИИ {ai} → человек {human}", "AI {ai} → human {human}"),
}

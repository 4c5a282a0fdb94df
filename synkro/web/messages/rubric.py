"""The rubric editor (/t/{slug}/rubric), for the tenant's admins."""

MESSAGES = {
    "rubric.nav": ("Рубрика", "Rubric"),
    "rubric.title": ("Рубрика оценки", "Scoring rubric"),
    "rubric.lead": (
        "По этим критериям ИИ оценивает каждый диалог. Итоговую оценку считаем мы сами по оценкам "
        "критериев и их весам, а не берём у модели. Каждое сохранение — новая версия рубрики.",
        "The AI scores every dialog by these criteria. We compute the overall score ourselves from the "
        "criterion scores and their weights; the model's own total is not used. Every save is a new version.",
    ),
    "rubric.current": ("Текущая рубрика: версия {number}", "Current rubric: version {number}"),
    "rubric.current_builtin": ("Текущая рубрика: встроенная", "Current rubric: built-in"),
    "rubric.template": ("Начать со встроенного шаблона", "Start from the built-in template"),
    "rubric.types_hint": (
        "Тип критерия: «оценивается» — всегда учитывается; «допускается N/A» — может быть неприменим к "
        "диалогу, тогда его вес делится между остальными; «критичный» — оценка ниже 50 ограничивает итог "
        "диалога 40 баллами.",
        "Criterion type: “scored” always counts; “N/A allowed” may not apply to a dialog, its weight then "
        "goes to the others; “fatal”: a score below 50 caps the dialog's overall at 40.",
    ),
    "rubric.criterion": ("Критерий", "Criterion"),
    "rubric.key": ("Ключ", "Key"),
    "rubric.name": ("Название", "Name"),
    "rubric.description": ("Что проверять", "What to check"),
    "rubric.weight": ("Вес, %", "Weight, %"),
    "rubric.type": ("Тип", "Type"),
    "rubric.type.scored": ("оценивается", "scored"),
    "rubric.type.na_allowed": ("допускается N/A", "N/A allowed"),
    "rubric.type.fatal": ("критичный", "fatal"),
    "rubric.add": ("Добавить критерий", "Add a criterion"),
    "rubric.total": ("Сумма весов:", "Weights total:"),
    "rubric.remove_hint": (
        "Чтобы убрать критерий, очистите все его поля.",
        "To remove a criterion, clear all of its fields.",
    ),
    "rubric.context": ("О бизнесе", "About the business"),
    "rubric.context_hint": (
        "Свободный текст для ИИ: что продаёте, кому, что считается хорошим диалогом. Попадает в запрос.",
        "Free text for the AI: what you sell, to whom, what a good dialog is. It goes into the prompt.",
    ),
    "rubric.save": ("Сохранить новую версию", "Save as a new version"),
    "rubric.saved": (
        "Сохранена версия {number}. Она будет оценивать дни, которые запуск проанализирует дальше.",
        "Version {number} saved. It scores the days that runs analyse from now on.",
    ),
    "rubric.refused": (
        "Рубрика не сохранена: исправьте отмеченные поля.",
        "The rubric was not saved: fix the fields marked below.",
    ),
    "rubric.versions": ("Версии", "Versions"),
    "rubric.version": ("Версия {number}", "Version {number}"),
    "rubric.in_use": ("используется", "in use"),
    "rubric.unknown_actor": ("неизвестно кто", "unknown"),
    "rubric.criteria_count": ("критериев: {n}", "criteria: {n}"),
    "rubric.no_versions": (
        "Пока используется встроенная рубрика; своих версий нет.",
        "The built-in rubric is in use; no versions saved yet.",
    ),
    "rubric.rescore_hint": (
        "Новая версия не пересчитывает прошлое целиком: запуск переоценивает только те дни, которые его "
        "попросили проанализировать (по расписанию или принудительно). Старые оценки сохраняются.",
        "A new version does not re-score history: a run re-scores only the days it is asked to analyse "
        "(scheduled or forced). Earlier scores are kept.",
    ),
    "rubric.error.key": (
        "Ключ: латиница в нижнем регистре, цифры и _, от 2 символов, начинается с буквы.",
        "Key: lower-case latin letters, digits and _, 2 characters or more, starting with a letter.",
    ),
    "rubric.error.duplicate": ("Такой ключ уже есть в рубрике.", "This key is already in the rubric."),
    "rubric.error.title": ("Укажите название.", "Enter a name."),
    "rubric.error.description": ("Опишите, что проверять.", "Describe what to check."),
    "rubric.error.weight": ("Вес — целое число от 1 до 100.", "Weight: a whole number from 1 to 100."),
    "rubric.error.type": ("Неизвестный тип критерия.", "Unknown criterion type."),
    "rubric.error.total": (
        "Сумма весов {total}, а должна быть ровно 100. Ничего не сохранено.",
        "The weights total {total}; they must total exactly 100. Nothing was saved.",
    ),
    "rubric.error.empty": ("Добавьте хотя бы один критерий.", "Add at least one criterion."),
    "rubric.error.context": ("Не больше 4000 символов.", "At most 4000 characters."),
    "rubric.error.invalid": ("Рубрика не прошла проверку.", "The rubric did not pass validation."),
    "rubric.scored_by": ("Чем оценено", "Scored by"),
    "rubric.scored_by.window": ("Период", "Window"),
    "rubric.scored_by.rubric": ("Рубрика", "Rubric"),
    "rubric.scored_by.score": ("Итог", "Overall"),
    "rubric.scored_by.when": ("Когда", "When"),
    "rubric.scored_by.builtin": ("встроенная", "built-in"),
    "rubric.scored_by.current": ("текущая", "current"),
    "rubric.scored_by.none": ("Диалог ещё не оценивали.", "The dialog has not been scored yet."),
}

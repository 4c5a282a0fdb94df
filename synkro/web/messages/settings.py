"""Words of the settings wizard (one step per integration, live checks) and the runtime settings."""

MESSAGES = {
    "settings.title": ("Настройки", "Settings"),
    "settings.steps": ("Шаги настройки", "Setup steps"),
    "settings.runtime": ("Расписание и лимиты", "Schedule and limits"),
    "settings.step_n": ("Шаг {n} из {total}", "Step {n} of {total}"),
    "settings.next": ("Следующий шаг: {name} →", "Next step: {name} →"),
    "settings.saved": ("Сохранено. Теперь нажмите «Проверить».", "Saved. Now press “Check”."),
    "settings.runtime_saved": ("Сохранено.", "Saved."),
    "settings.not_saved": (
        "Ничего не сохранено: исправьте отмеченные поля.",
        "Nothing was saved: fix the marked fields.",
    ),
    "settings.conflict": (
        "Пока вы редактировали, эти настройки изменил кто-то другой. Ничего не сохранено; "
        "форма показывает текущие значения — внесите изменения ещё раз.",
        "Someone else changed these settings while you were editing. Nothing was saved; "
        "the form shows the current values — make your changes again.",
    ),
    "settings.check_unsaved": (
        "Сначала сохраните настройки этого шага.",
        "Save this step's settings first.",
    ),
    "settings.bad_timezone": (
        "Выберите часовой пояс из списка (IANA, например Europe/Moscow).",
        "Pick a time zone from the list (IANA, e.g. Europe/Moscow).",
    ),
    "settings.save": ("Сохранить", "Save"),
    "settings.check": ("Проверить", "Check"),
    "settings.checking": ("Проверяем…", "Checking…"),
    "settings.check_title": ("Проверка подключения", "Connection check"),
    "settings.check_lead": (
        "Те же проверки, что выполняет `synkro check`; результат сохраняется как статус шага.",
        "The same checks as `synkro check`; the outcome is saved as the step's status.",
    ),
    "settings.check_disabled": (
        "Проверка станет доступна после сохранения.",
        "The check becomes available once the step is saved.",
    ),
    "settings.check.ok": ("Проверка пройдена.", "Check passed."),
    "settings.check.fail": ("Проверка не пройдена — см. строки с ✗.", "Check failed — see the ✗ lines."),
    "settings.check.stream_failed": (
        "Связь прервалась во время проверки. Обновите страницу и попробуйте снова.",
        "The connection broke during the check. Reload the page and try again.",
    ),
    "settings.line.ok": ("успешно", "ok"),
    "settings.line.warn": ("предупреждение", "warning"),
    "settings.line.fail": ("ошибка", "failed"),
    "settings.status_label": ("Статус:", "Status:"),
    "settings.last_error": ("Последняя ошибка: {error}", "Last error: {error}"),
    "settings.secret_stored": ("Сохранён: {mask}.", "Stored: {mask}."),
    "settings.secret_keep": ("Оставьте поле пустым, чтобы не менять.", "Leave empty to keep it."),
    "settings.secret_none": ("Не задан.", "Not set."),
    "settings.clear": ("удалить", "remove"),
    "settings.default": ("По умолчанию: {value}.", "Default: {value}."),
    "settings.optional": ("необязательно", "optional"),
    # -- steps ----------------------------------------------------------------------------------
    "settings.lead.supabase": (
        "Необязательно: собственный проект Supabase компании. С заданным database_url данные компании "
        "хранятся там; без него — в базе Synkro.",
        "Optional: the company's own Supabase project. With database_url set, the company's data lives "
        "there; without it, in Synkro's database.",
    ),
    "settings.lead.amocrm": (
        "Аккаунт amoCRM (Kommo): данные интеграции и подключение по OAuth — или долгосрочный токен.",
        "The amoCRM (Kommo) account: the integration's details and an OAuth connection — or a "
        "long-lived token.",
    ),
    "settings.lead.radist": (
        "Ключ API Radist.Online и компания, чьи диалоги загружаются.",
        "The Radist.Online API key and the company whose dialogs are loaded.",
    ),
    "settings.lead.gemini": (
        "Ключ Google Gemini и модель для оценки диалогов. Проверка оценивает три последних диалога.",
        "The Google Gemini key and the model that scores dialogs. The check scores three recent dialogs.",
    ),
    "settings.lead.telegram": (
        "Бот и чат, куда приходят отчёты. Проверка не отправляет сообщений.",
        "The bot and the chat reports go to. The check posts nothing.",
    ),
    # -- field labels and hints -----------------------------------------------------------------
    "settings.f.supabase.url": ("URL проекта", "Project URL"),
    "settings.h.supabase.url": ("https://<project_ref>.supabase.co", "https://<project_ref>.supabase.co"),
    "settings.f.supabase.database_url": ("Строка подключения Postgres", "Postgres connection string"),
    "settings.h.supabase.database_url": (
        "Прямой хост или session pooler на порту 5432 (не 6543).",
        "The direct host or the session pooler on port 5432 (not 6543).",
    ),
    "settings.f.supabase.anon_key": (
        "Публичный ключ (anon / publishable)",
        "Public key (anon / publishable)",
    ),
    "settings.h.supabase.anon_key": ("Нужен только для проверки REST.", "Only used by the REST check."),
    "settings.f.supabase.service_role_key": (
        "Секретный ключ (service_role / secret)",
        "Secret key (service_role / secret)",
    ),
    "settings.h.supabase.service_role_key": (
        "Позволяет проверить, что схемы компании не открыты через Data API.",
        "Lets the check verify that the company's schemas are not exposed through the Data API.",
    ),
    "settings.f.amocrm.subdomain": ("Поддомен аккаунта", "Account subdomain"),
    "settings.h.amocrm.subdomain": (
        "Например mycompany для mycompany.amocrm.ru (можно вставить адрес целиком).",
        "E.g. mycompany for mycompany.amocrm.ru (a whole address works too).",
    ),
    "settings.f.amocrm.base_url": ("Адрес API", "API address"),
    "settings.h.amocrm.base_url": (
        "Пусто — https://{{subdomain}}.amocrm.ru; для kommo.com или прокси укажите свой.",
        "Empty: https://{{subdomain}}.amocrm.ru; set it for kommo.com or a proxy.",
    ),
    "settings.f.amocrm.oauth_url": ("Адрес страницы согласия OAuth", "OAuth consent page address"),
    "settings.h.amocrm.oauth_url": (
        "Пусто — https://www.amocrm.ru (для Kommo — https://www.kommo.com).",
        "Empty: https://www.amocrm.ru (Kommo: https://www.kommo.com).",
    ),
    "settings.f.amocrm.client_id": ("ID интеграции", "Integration ID"),
    "settings.h.amocrm.client_id": (
        "amoCRM → Настройки → Интеграции → ваша интеграция → Ключи и доступы.",
        "amoCRM → Settings → Integrations → your integration → Keys and scopes.",
    ),
    "settings.f.amocrm.client_secret": ("Секретный ключ интеграции", "Integration secret key"),
    "settings.h.amocrm.client_secret": ("Там же, где ID интеграции.", "Next to the integration ID."),
    "settings.f.amocrm.redirect_uri": ("Redirect URI", "Redirect URI"),
    "settings.h.amocrm.redirect_uri": (
        "Укажите этот же адрес в настройках интеграции amoCRM — он должен совпадать дословно.",
        "Enter the same address in the amoCRM integration's settings — it must match exactly.",
    ),
    "settings.f.amocrm.long_lived_token": (
        "Долгосрочный токен (вместо OAuth)",
        "Long-lived token (instead of OAuth)",
    ),
    "settings.h.amocrm.long_lived_token": (
        "Если не подключаете через OAuth: сгенерируйте его в интеграции amoCRM.",
        "If you do not connect through OAuth: generate one in the amoCRM integration.",
    ),
    "settings.f.amocrm.access_token": ("Токен доступа OAuth", "OAuth access token"),
    "settings.f.amocrm.refresh_token": ("Токен обновления OAuth", "OAuth refresh token"),
    "settings.amocrm.tokens": ("Подключение OAuth", "OAuth connection"),
    "settings.amocrm.tokens_lead": (
        "Токены появляются после «Подключить amoCRM» и обновляются автоматически.",
        "Tokens appear after “Connect amoCRM” and are refreshed automatically.",
    ),
    "settings.amocrm.expires_at": ("Токен доступа действует до {when}", "Access token valid until {when}"),
    "settings.f.radist.api_key": ("Ключ API", "API key"),
    "settings.h.radist.api_key": ("Без префикса Bearer.", "Without a Bearer prefix."),
    "settings.f.radist.company_id": ("Компания", "Company"),
    "settings.h.radist.company_id": (
        "Список — компании, которые видит сохранённый ключ.",
        "The list shows the companies the stored key sees.",
    ),
    "settings.h.radist.company_id_nokey": (
        "ID компании Radist; после сохранения ключа появится список.",
        "The Radist company ID; once the key is saved, a list appears.",
    ),
    "settings.radist.pick_company": ("— выберите компанию —", "— pick a company —"),
    "settings.radist.company_missing": ("{id} (ключ её не видит)", "{id} (not visible to the key)"),
    "settings.f.radist.connection_ids": ("Подключения (каналы)", "Connections (channels)"),
    "settings.h.radist.connection_ids": (
        "Ничего не отмечено — загружаются все подключения.",
        "None selected: every connection is loaded.",
    ),
    "settings.h.radist.connection_ids_text": (
        "ID через запятую; пусто — все подключения.",
        "IDs separated by commas; empty means all connections.",
    ),
    "settings.f.radist.base_url": ("Адрес API", "API address"),
    "settings.h.radist.base_url": ("Пусто — {value}.", "Empty: {value}."),
    "settings.live_error": (
        "Не удалось получить список: {error}",
        "Could not fetch the list: {error}",
    ),
    "settings.f.gemini.api_key": ("Ключ API", "API key"),
    "settings.h.gemini.api_key": ("Google AI Studio → API keys.", "Google AI Studio → API keys."),
    "settings.f.gemini.model": ("Модель", "Model"),
    "settings.h.gemini.model": (
        "Модели, которые поддерживают generateContent для этого ключа (список получен сейчас).",
        "Models supporting generateContent for this key (listed live).",
    ),
    "settings.h.gemini.model_nokey": (
        "После сохранения ключа появится список доступных моделей.",
        "Once the key is saved, the list of available models appears.",
    ),
    "settings.gemini.model_unavailable": (
        "{model} (недоступна для ключа)",
        "{model} (not available to the key)",
    ),
    "settings.gemini.model_default": ("— по умолчанию: {model} —", "— default: {model} —"),
    "settings.f.gemini.api_version": ("Версия API", "API version"),
    "settings.h.gemini.api_version": ("Обычно v1beta.", "Usually v1beta."),
    "settings.f.gemini.base_url": ("Адрес API", "API address"),
    "settings.h.gemini.base_url": ("Пусто — {value}.", "Empty: {value}."),
    "settings.f.telegram.bot_token": ("Токен бота", "Bot token"),
    "settings.h.telegram.bot_token": ("Выдаёт @BotFather: 123456:ABC…", "Issued by @BotFather: 123456:ABC…"),
    "settings.f.telegram.chat_id": ("ID чата", "Chat ID"),
    "settings.h.telegram.chat_id": (
        "Число (у групп отрицательное, у супергрупп −100…) или @имя_канала. Бот должен быть в чате.",
        "A number (negative for groups, −100… for supergroups) or @channel_name; "
        "the bot must be in the chat.",
    ),
    "settings.f.telegram.base_url": ("Адрес Bot API", "Bot API address"),
    "settings.h.telegram.base_url": ("Пусто — {value}.", "Empty: {value}."),
    "settings.telegram.send_test": ("Отправить тестовое сообщение", "Send a test message"),
    # -- Supabase SQL -----------------------------------------------------------------------------
    "settings.sql.title": ("SQL для проекта Supabase", "SQL for the Supabase project"),
    "settings.sql.lead": (
        "Выполните его один раз в SQL Editor проекта (от имени postgres): схемы, роли, права и RLS "
        "для этой компании. Пароли он не задаёт и не содержит.",
        "Run it once in the project's SQL Editor (as postgres): schemas, roles, grants and RLS for this "
        "company. It sets and contains no passwords.",
    ),
    "settings.sql.show": ("Сгенерировать SQL", "Generate SQL"),
    "settings.sql.download": ("Скачать .sql", "Download .sql"),
    # -- amoCRM sample ------------------------------------------------------------------------------
    "settings.sample.title": (
        "Три последних контакта и их диалоги в Radist",
        "Three recent contacts and their Radist dialogs",
    ),
    "settings.sample.contact": ("Контакт", "Contact"),
    "settings.sample.phone": ("Телефон", "Phone"),
    "settings.sample.dialogs": ("Диалоги Radist", "Radist dialogs"),
    "settings.sample.found": ("{n} шт.: {ids}", "{n}: {ids}"),
    "settings.sample.none_found": ("нет диалога", "no dialog"),
    "settings.sample.not_looked_up": (
        "не искали (нет настроек Radist)",
        "not looked up (no Radist settings)",
    ),
    "settings.sample.no_phone": ("нет телефона", "no phone"),
    "settings.sample.empty": ("В amoCRM нет контактов с телефоном.", "No amoCRM contact with a phone."),
    "settings.sample.details": ("Подробно (как в synkro check)", "Details (as synkro check prints them)"),
    # -- Gemini test analysis -------------------------------------------------------------------------
    "settings.analysis.title": (
        "Пробный анализ трёх последних диалогов",
        "Test analysis of three recent dialogs",
    ),
    "settings.analysis.dialog": ("Диалог {id}", "Dialog {id}"),
    "settings.analysis.score": ("Оценка", "Score"),
    "settings.analysis.sentiment": ("Настроение", "Sentiment"),
    "settings.analysis.flags": ("Риски", "Risks"),
    "settings.analysis.summary": ("Итог", "Summary"),
    "settings.analysis.recommendation": ("Рекомендация", "Recommendation"),
    "settings.analysis.criteria": ("Критерии", "Criteria"),
    "settings.analysis.failed": ("Не оценён: {error}", "Not scored: {error}"),
    "settings.analysis.transcript": (
        "Отправленный текст (с маскировкой) и полный ответ",
        "The text sent (masked) and the full verdict",
    ),
    "settings.analysis.none": ("нет", "none"),
    # -- runtime settings -------------------------------------------------------------------------------
    "settings.rt.lead": (
        "Когда и как готовится отчёт. Время — местное, в часовом поясе компании.",
        "When and how the report is made. Times are local, in the company's time zone.",
    ),
    "settings.rt.group.schedule": ("Расписание", "Schedule"),
    "settings.rt.group.limits": ("Объём и бюджет", "Volume and budget"),
    "settings.rt.group.other": ("Прочее", "Other"),
    "settings.rt.group.ai_cost": ("Расходы на ИИ", "AI cost"),
    "settings.unset": ("не задано", "not set"),
    "settings.rt.ai_monthly_budget_usd": ("Бюджет ИИ на месяц, $", "Monthly AI budget, $"),
    "settings.rt.h.ai_monthly_budget_usd": (
        "Когда расходы месяца дойдут до бюджета, анализ остановится; первыми оцениваются открытые сделки, "
        "ждущие клиенты и крупные сделки. Пусто — без лимита.",
        "When the month's spend reaches it, analysis stops; open deals, waiting customers and large deals "
        "are scored first. Empty: no cap.",
    ),
    "settings.rt.ai_batch": ("Пакетный режим Gemini (−50 %)", "Gemini Batch API (−50%)"),
    "settings.rt.h.ai_batch": (
        "Ночные запуски отправляют диалоги одним пакетом за полцены; что пакет не вернул вовремя, "
        "оценивается обычными запросами.",
        "Nightly runs send dialogs as one batch at half price; what the batch does not return in time "
        "is scored online.",
    ),
    "settings.choice.ai_batch.auto": ("только ночные запуски", "scheduled runs only"),
    "settings.choice.ai_batch.never": ("никогда", "never"),
    "settings.choice.ai_batch.always": ("всегда", "always"),
    "settings.rt.ai_batch_max_wait_minutes": ("Ждать пакет, минут", "Wait for the batch, minutes"),
    "settings.rt.h.ai_batch_max_wait_minutes": (
        "Дольше запуск не ждёт и оценивает остальное обычными запросами.",
        "After this the run scores the rest online.",
    ),
    "settings.rt.ai_escalation_model": ("Сильная модель для перепроверки", "Stronger model for re-scoring"),
    "settings.rt.h.ai_escalation_model": (
        "Перепроверяет крупные открытые сделки, провалы критичных критериев и неуверенные оценки. "
        "Пусто — выключено.",
        "Re-scores large open deals, missed fatal criteria and unsure verdicts. Empty: off.",
    ),
    "settings.rt.ai_escalation_min_price": ("Перепроверять сделки от суммы", "Re-score deals priced from"),
    "settings.rt.h.ai_escalation_min_price": (
        "Бюджет сделки в amoCRM. Пусто — по сумме не перепроверять.",
        "The amoCRM deal price. Empty: no price rule.",
    ),
    "settings.rt.ai_escalation_min_confidence": (
        "Перепроверять при уверенности ниже",
        "Re-score when confidence is below",
    ),
    "settings.rt.h.ai_escalation_min_confidence": ("0–100.", "0–100."),
    "settings.rt.timezone": ("Часовой пояс", "Time zone"),
    "settings.rt.day_boundary": ("Граница рабочего дня", "Business day boundary"),
    "settings.rt.h.day_boundary": (
        "Местное время, когда один рабочий день заканчивается и начинается следующий.",
        "Local time where one business day ends and the next begins.",
    ),
    "settings.rt.run_time": ("Время отчёта", "Report time"),
    "settings.rt.h.run_time": ("Когда запускается плановый отчёт.", "When the scheduled report runs."),
    "settings.rt.schedule_enabled": ("Отчёт по расписанию", "Scheduled report"),
    "settings.rt.h.schedule_enabled": (
        "Выключено — только ручные запуски.",
        "Off: forced runs only.",
    ),
    "settings.rt.mode": ("Источники", "Sources"),
    "settings.rt.h.mode": ("Что загружается.", "What is loaded."),
    "settings.mode.amocrm_radist": ("amoCRM и Radist", "amoCRM and Radist"),
    "settings.mode.amocrm_only": ("только amoCRM", "amoCRM only"),
    "settings.mode.radist_only": ("только Radist", "Radist only"),
    "settings.rt.min_dialogs": ("Минимум диалогов", "Minimum dialogs"),
    "settings.rt.h.min_dialogs": (
        "Меньше диалогов за день — вместо отчёта короткое уведомление.",
        "Fewer dialogs in the day: a short notice instead of the report.",
    ),
    "settings.rt.ai_max_dialogs": ("Лимит ИИ: диалогов за запуск", "AI budget: dialogs per run"),
    "settings.rt.h.ai_max_dialogs": (
        "Сверх лимита диалоги не оцениваются (в отчёте указано, сколько).",
        "Dialogs beyond it are not scored (the report says how many).",
    ),
    "settings.rt.ai_max_tokens": ("Лимит ИИ: токенов за запуск", "AI budget: tokens per run"),
    "settings.rt.h.ai_max_tokens": ("Входные и выходные токены вместе.", "Input and output tokens together."),
    "settings.rt.gemini_rpm": ("Запросов к Gemini в минуту", "Gemini requests per minute"),
    "settings.rt.h.gemini_rpm": ("По квоте вашего ключа.", "Per your key's quota."),
    "settings.rt.forced_lookback_days": (
        "Ручной запуск: дней назад не более",
        "Forced run: days back at most",
    ),
    "settings.rt.h.forced_lookback_days": ("От 1 до 31.", "1 to 31."),
    "settings.rt.forced_max_window_hours": (
        "Ручной запуск: окно не длиннее, ч",
        "Forced run: longest window, h",
    ),
    "settings.rt.h.forced_max_window_hours": ("", ""),
    "settings.rt.followup_window_minutes": ("Ожидание ответа, мин", "Follow-up window, min"),
    "settings.rt.h.followup_window_minutes": (
        "Клиент без ответа к концу дня считается «оставленным» только после такого ожидания.",
        "A customer unanswered at the day's end counts as left waiting only after this long.",
    ),
    "settings.rt.working_hours": ("Рабочие часы", "Working hours"),
    "settings.rt.h.working_hours": (
        "ЧЧ:ММ-ЧЧ:ММ по времени компании, например 09:00-18:00: время ответа считается и в рабочих часах.",
        "HH:MM-HH:MM in the company's time zone, e.g. 09:00-18:00: response times also count within them.",
    ),
    "settings.rt.working_days": ("Рабочие дни", "Working days"),
    "settings.rt.h.working_days": (
        "Дни недели 1 (пн) … 7 (вс): 1-5 или 1,2,3,4,5,6.",
        "Weekdays 1 (Mon) … 7 (Sun): 1-5 or 1,2,3,4,5,6.",
    ),
    "settings.rt.holidays": ("Праздники", "Holidays"),
    "settings.rt.h.holidays": (
        "Нерабочие даты ГГГГ-ММ-ДД через запятую, например 2027-01-01,2027-01-07.",
        "Non-working dates YYYY-MM-DD, comma-separated, e.g. 2027-01-01,2027-01-07.",
    ),
    "settings.rt.context_messages": ("Сообщений контекста", "Context messages"),
    "settings.rt.h.context_messages": (
        "Сколько более ранних сообщений диалога видит ИИ (0–50).",
        "Earlier messages of a dialog shown to the AI (0–50).",
    ),
    "settings.rt.risky_dialogs_limit": ("Рискованных диалогов в отчёте", "Risky dialogs in the report"),
    "settings.rt.h.risky_dialogs_limit": ("0–50.", "0–50."),
    "settings.rt.stale_after_hours": ("Данные устарели через, ч", "Data stale after, h"),
    "settings.rt.h.stale_after_hours": (
        "Источник, не загружавшийся дольше, помечается в отчёте.",
        "A source not loaded for longer is flagged in the report.",
    ),
    "settings.rt.phone_region": ("Регион телефонов", "Phone region"),
    "settings.rt.h.phone_region": (
        "Для номеров без кода страны, например RU или KZ.",
        "For numbers without a country code, e.g. RU or KZ.",
    ),
    "settings.rt.language": ("Язык анализа", "Analysis language"),
    "settings.rt.h.language": (
        "Язык подписей в переписке и выводов ИИ: ru, en…",
        "Language of transcript labels and the AI's verdicts: ru, en…",
    ),
    "settings.rt.mask_pii": ("Маскировать персональные данные", "Mask personal data"),
    "settings.rt.h.mask_pii": (
        "Телефоны, почта и номера карт скрываются до отправки текста в ИИ.",
        "Phones, emails and card numbers are hidden before text goes to the AI.",
    ),
    "settings.rt.rubric": (
        "Рубрика оценки: {which}, версия {version}. Меняется на странице «Рубрика» "
        "или командой `synkro settings set SLUG rubric=@file`.",
        "Scoring rubric: {which}, version {version}. Changed on the Rubric page "
        "or with `synkro settings set SLUG rubric=@file`.",
    ),
    "settings.rt.rubric_builtin": ("встроенная", "built-in"),
    "settings.rt.rubric_custom": ("своя", "custom"),
    "settings.on": ("включено", "on"),
}

"""The instruction sent with every dialog; PROMPT_VERSION is stored with each analysis row.

Why versioned: changing the wording changes the scores. Bump PROMPT_VERSION whenever the text
below changes so unchanged dialogs are re-scored and old rows stay traceable. The JSON schema is
passed as response_schema and deliberately not repeated here (repeating it lowers quality).
"""

from __future__ import annotations

from synkro.analysis.rubric import Rubric

PROMPT_VERSION = "p-2026-11-30.1"

_LANGUAGE_NAMES = {"ru": "русском", "en": "английском", "uk": "украинском", "kk": "казахском"}

_TEMPLATE_RU = """Ты — руководитель отдела продаж. Оцени переписку менеджера с клиентом в мессенджере.

Рубрика (критерий — вес в % — что проверять):
{criteria}

Правила:
- Оценивай только сообщения отмеченного периода; контекст дан для понимания.
- Для каждого критерия рубрики дай оценку 0–100, дословную цитату-доказательство из переписки \
(или пустую строку, если цитаты нет) и одну строку причины. Используй ключи критериев как есть.
- overall_score — взвешенная по весам рубрики оценка 0–100.
- Перечисли возражения клиента и отработал ли их менеджер.
- Укажи, договорились ли о конкретном следующем шаге (что и когда).
- risk_flags — только из допустимого списка: customer_waiting (клиент ждёт ответа), \
price_objection_unresolved (возражение по цене не отработано), no_next_step (нет следующего шага), \
rude_or_careless_tone (грубый или небрежный тон), competitor_mentioned (упомянут конкурент), \
customer_lost_interest (клиент потерял интерес).
- summary — два предложения, recommendation — одна конкретная рекомендация менеджеру.
- Все тексты пиши на {language} языке.
- Персональные данные скрыты метками вида [телефон]; не пытайся их восстановить.

Переписка:
{transcript}"""


def build_prompt(transcript: str, rubric: Rubric, language: str = "ru") -> str:
    """The full prompt for one dialog in the tenant's language (Russian wording, answer language set)."""
    criteria = "\n".join(f"- {c.key} — {c.title} — {c.weight}% — {c.description}" for c in rubric.criteria)
    lang = _LANGUAGE_NAMES.get(language, language or "русском")
    return _TEMPLATE_RU.format(criteria=criteria, language=lang, transcript=transcript)


def prompt_version(language: str = "ru") -> str:
    """The version stored with a row: the template version plus the answer language."""
    return f"{PROMPT_VERSION}-{language or 'ru'}"

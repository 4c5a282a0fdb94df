"""Deliver a report to the tenant's Telegram chat exactly once.

Why so careful: a report sent twice (or half a report) erodes trust faster than a late one.
Every message id is recorded in the report's delivery metadata as soon as Telegram accepts it, so
a re-run of the same window sends nothing (or only what is missing after a crash) unless
``resend=True``. Telegram's own signals are honoured: ``RetryAfter`` waits, ``ChatMigrated`` saves
the new supergroup id and continues, ``Forbidden`` marks the integration and the report failed
with a message the owner can act on, and an HTML parse error falls back to plain text.

Two runs of one window (a retry overlapping a slow first attempt, two daemons) must not both send:
the whole delivery runs under the store's per-tenant lock (`delivery_lock`, a Postgres advisory
lock in the control plane), and the delivery state is read only once the lock is held, so the
second run finds the report sent and sends nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import SecretStr
from telegram import Bot
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, NetworkError, RetryAfter

from synkro.controlplane import ConcurrentUpdateError, ControlPlane
from synkro.controlplane.locks import TELEGRAM_DELIVERY, LockTimeout, tenant_lock
from synkro.report.chart import manager_chart_png
from synkro.report.model import Report
from synkro.report.render import document_filename, html_document, telegram_messages, to_plain_text
from synkro.secrets import mask

DEFAULT_BASE_URL = "https://api.telegram.org"
# How long a delivery waits for another one of the same tenant: longer than a slow delivery
# (a few RetryAfter waits), short enough that a stuck one surfaces as a retryable failure.
LOCK_TIMEOUT_SECONDS = 600.0


class DeliveryFailed(RuntimeError):
    """The destination is unusable (blocked bot, kicked, chat gone, bad token); the owner must act."""


class DeliveryBusy(RuntimeError):
    """Another delivery to this tenant held the lock longer than we wait; retrying later is safe."""


class DeliveryStore(Protocol):
    """Where delivery state lives (the control plane): read by a re-run to avoid resending."""

    def delivery_lock(self) -> AbstractContextManager[Any]:
        """Held for the whole delivery; one holder per tenant (chat) at a time."""
        ...

    def load_delivery(self, report_id: int) -> dict[str, Any]: ...
    def save_delivery(self, report_id: int, delivery: dict[str, Any]) -> None: ...
    def mark_report(self, report_id: int, status: str, error: str | None = None) -> None: ...
    def save_chat_id(self, chat_id: int | str) -> None: ...
    def mark_integration_error(self, message: str) -> None: ...


@dataclass
class TelegramTarget:
    """Bot token (secret), chat id and API base URL; repr never shows the token."""

    bot_token: SecretStr
    chat_id: int | str
    base_url: str = DEFAULT_BASE_URL

    def __repr__(self) -> str:
        return f"TelegramTarget(chat_id={self.chat_id!r}, token={mask(self.bot_token.get_secret_value())})"

    @classmethod
    def from_config(cls, config: Any) -> TelegramTarget:
        get = config.get if isinstance(config, dict) else lambda k: getattr(config, k, None)
        token = get("bot_token")
        token = token if isinstance(token, SecretStr) else SecretStr(str(token))
        base = get("effective_base_url") or get("base_url") or DEFAULT_BASE_URL
        return cls(bot_token=token, chat_id=get("chat_id"), base_url=str(base).rstrip("/"))

    def bot(self) -> Bot:
        return Bot(self.bot_token.get_secret_value(), base_url=f"{self.base_url}/bot")


@dataclass
class DeliveryResult:
    status: str  # sent | already_sent | failed
    message_ids: list[int] = field(default_factory=list)
    chat_id: int | str | None = None
    plain_text_fallbacks: int = 0
    error: str | None = None


class Sender:
    """Runs one Telegram call with RetryAfter / ChatMigrated / network retry handling."""

    def __init__(
        self, target: TelegramTarget, store: DeliveryStore, sleep: Callable[[float], Awaitable[Any]]
    ) -> None:
        self.target = target
        self.store = store
        self.sleep = sleep
        self.chat_id = target.chat_id

    async def call(self, send: Callable[[int | str], Awaitable[Any]]) -> Any:
        network_failures = 0
        rate_limited = 0
        while True:
            try:
                return await send(self.chat_id)
            except RetryAfter as exc:
                rate_limited += 1
                if rate_limited > 5:
                    raise
                delay = exc.retry_after
                await self.sleep(delay.total_seconds() if hasattr(delay, "total_seconds") else float(delay))
            except ChatMigrated as exc:
                self.chat_id = exc.new_chat_id
                self.store.save_chat_id(exc.new_chat_id)
            except NetworkError as exc:
                if isinstance(exc, (BadRequest, Forbidden, InvalidToken)):
                    raise
                network_failures += 1
                if network_failures >= 4:
                    raise
                await self.sleep(2 ** (network_failures - 1))


def _is_parse_error(exc: BadRequest) -> bool:
    return "can't parse entities" in exc.message.lower() or "can't find end" in exc.message.lower()


def _dead_destination(exc: Exception) -> str | None:
    if isinstance(exc, Forbidden):
        return f"Telegram refused delivery ({exc.message}): unblock the bot or add it back to the chat."
    if isinstance(exc, InvalidToken):
        return "Telegram bot token is invalid: set a new token from @BotFather."
    if isinstance(exc, BadRequest) and "chat not found" in exc.message.lower():
        return "Telegram chat not found: check the chat id and that the bot was started in it."
    return None


async def send_html_or_plain(bot: Bot, sender: Sender, text: str) -> tuple[Any, bool]:
    """Send HTML; if Telegram cannot parse it, send the same content as plain text (once)."""
    try:
        msg = await sender.call(
            lambda chat: bot.send_message(
                chat, text, parse_mode=ParseMode.HTML, disable_web_page_preview=True
            )
        )
        return msg, False
    except BadRequest as exc:
        if not _is_parse_error(exc):
            raise
    plain = to_plain_text(text)
    return await sender.call(lambda chat: bot.send_message(chat, plain)), True


async def deliver_report_async(
    report: Report,
    target: TelegramTarget,
    store: DeliveryStore,
    report_id: int,
    *,
    resend: bool = False,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
) -> DeliveryResult:
    """Send the report's messages, chart and HTML document once; see the module docstring.

    Waiting for the lock blocks the event loop, which runs nothing but this delivery.
    """
    with store.delivery_lock():
        return await _deliver_locked(report, target, store, report_id, resend=resend, sleep=sleep)


async def _deliver_locked(
    report: Report,
    target: TelegramTarget,
    store: DeliveryStore,
    report_id: int,
    *,
    resend: bool,
    sleep: Callable[[float], Awaitable[Any]],
) -> DeliveryResult:
    delivery = dict(store.load_delivery(report_id) or {})
    if delivery.get("completed") and not resend:
        return DeliveryResult("already_sent", list(delivery.get("message_ids", [])), delivery.get("chat_id"))
    if resend and delivery.get("completed"):
        history = [*delivery.get("history", []), {k: v for k, v in delivery.items() if k != "history"}]
        # Every key is reset explicitly: the store merges, so an omitted key would keep its old value
        # and a crash before the first message would look like a completed delivery.
        delivery = {"history": history, "completed": False, "sent_at": None, "parts": {}, "message_ids": []}
        store.save_delivery(report_id, delivery)
    delivery.setdefault("message_ids", [])
    done: dict[str, int] = dict(delivery.get("parts", {}))
    sender = Sender(target, store, sleep)
    result = DeliveryResult("sent", chat_id=target.chat_id)

    def record(part: str, message_id: int) -> None:
        done[part] = message_id
        delivery["parts"] = done
        delivery["message_ids"] = [*delivery["message_ids"], message_id]
        delivery["chat_id"] = sender.chat_id
        store.save_delivery(report_id, delivery)

    try:
        async with target.bot() as bot:
            for i, text in enumerate(telegram_messages(report)):
                part = f"text:{i}"
                if part in done:
                    continue
                msg, fell_back = await send_html_or_plain(bot, sender, text)
                result.plain_text_fallbacks += fell_back
                record(part, msg.message_id)
            png = manager_chart_png(report) if report.kind == "full" else None
            if png and "chart" not in done:
                msg = await sender.call(lambda chat: bot.send_photo(chat, photo=png, caption="Менеджеры"))
                record("chart", msg.message_id)
            if "document" not in done:
                doc = html_document(report).encode("utf-8")
                name = document_filename(report)
                msg = await sender.call(
                    lambda chat: bot.send_document(chat, document=doc, filename=name, caption="Полный отчёт")
                )
                record("document", msg.message_id)
    except (Forbidden, InvalidToken, BadRequest) as exc:
        reason = _dead_destination(exc) or f"Telegram rejected the report: {exc.message}"
        if _dead_destination(exc):
            store.mark_integration_error(reason)
        store.mark_report(report_id, "failed", reason)
        result.status, result.error = "failed", reason
        result.message_ids = list(delivery["message_ids"])
        raise DeliveryFailed(reason) from None
    delivery |= {"completed": True, "sent_at": datetime.now(UTC).isoformat(), "chat_id": sender.chat_id}
    delivery["plain_text_fallbacks"] = result.plain_text_fallbacks
    store.save_delivery(report_id, delivery)
    store.mark_report(report_id, "sent")
    result.message_ids = list(delivery["message_ids"])
    result.chat_id = sender.chat_id
    return result


def deliver_report(
    report: Report, target: TelegramTarget, store: DeliveryStore, report_id: int, *, resend: bool = False
) -> DeliveryResult:
    """Synchronous wrapper for Dagster assets and the CLI."""
    return asyncio.run(deliver_report_async(report, target, store, report_id, resend=resend))


@dataclass
class Probe:
    """One verified property of the Telegram destination (token, chat, delivery, test message)."""

    name: str
    ok: bool
    detail: str


async def probe_telegram_async(target: TelegramTarget, send_test: bool = False) -> list[Probe]:
    """Token valid (getMe), chat visible (getChat), delivery allowed (sendChatAction), without posting.

    Why sendChatAction: getChat succeeds for a private chat whose user blocked the bot or never
    pressed Start; only a send-type call reveals that, and a "typing…" action posts nothing.
    Stops at the first failure, since later probes cannot succeed. ``send_test`` posts one line.
    """
    probes: list[Probe] = []
    step = "token"
    try:
        async with target.bot() as bot:
            me = await bot.get_me()
            probes.append(Probe("token", True, f"bot @{me.username} (id {me.id})"))
            step = "chat"
            chat = await bot.get_chat(target.chat_id)
            title = chat.title or chat.username or chat.first_name or ""
            probes.append(Probe("chat", True, f"{chat.id} ({chat.type}{', ' + title if title else ''})"))
            step = "delivery"
            await bot.send_chat_action(target.chat_id, ChatAction.TYPING)
            probes.append(Probe("delivery", True, "the bot may post in this chat"))
            if send_test:
                step = "test message"
                msg = await bot.send_message(target.chat_id, "Synkro: тестовое сообщение, доставка работает.")
                probes.append(Probe("test message", True, f"sent (message id {msg.message_id})"))
    except ChatMigrated as exc:
        probes.append(
            Probe(
                step,
                False,
                f"the group was upgraded to a supergroup: set chat_id to {exc.new_chat_id} "
                "(the next delivery also switches to it automatically)",
            )
        )
    except InvalidToken as exc:
        probes.append(Probe("token", False, _dead_destination(exc) or "Telegram bot token is invalid"))
    except (Forbidden, BadRequest) as exc:
        probes.append(Probe(step, False, _dead_destination(exc) or f"Telegram error: {exc.message}"))
    except RetryAfter as exc:
        probes.append(Probe(step, False, f"Telegram flood control: retry in {exc.retry_after} s"))
    except NetworkError as exc:
        probes.append(Probe(step, False, f"Telegram unreachable: {exc.message}"))
    return probes


async def check_telegram_async(target: TelegramTarget, send_test: bool = False) -> tuple[bool, str]:
    """All probes as one (ok, message) pair: what the delivery tests and simple callers need."""
    probes = await probe_telegram_async(target, send_test)
    failed = next((p for p in probes if not p.ok), None)
    if failed is not None:
        return False, failed.detail
    return True, "; ".join(f"{p.name}: {p.detail}" for p in probes)


def check_telegram(config: Any, send_test: bool = False) -> tuple[bool, str]:
    """``synkro check SLUG telegram``: returns (ok, message) and never prints the token."""
    return asyncio.run(check_telegram_async(TelegramTarget.from_config(config), send_test))


class ControlPlaneDeliveryStore:
    """DeliveryStore over the control-plane repositories, so every change is audited and locked.

    Why the repositories and not SQL: a migrated chat id is a config change like any other — it must
    bump the version (optimistic locking against a concurrent operator edit) and leave an audit
    entry; report status changes are audited here because the reports repository does not audit.
    """

    def __init__(
        self,
        cp: ControlPlane,
        tenant_slug: str,
        actor: str = "delivery",
        *,
        lock_timeout_seconds: float = LOCK_TIMEOUT_SECONDS,
    ) -> None:
        self.cp = cp
        self.slug = tenant_slug
        self.actor = actor
        self.lock_timeout_seconds = lock_timeout_seconds

    @contextmanager
    def delivery_lock(self) -> Iterator[None]:
        """Postgres advisory lock (TELEGRAM_DELIVERY, tenant) on its own connection for the delivery.

        Per tenant, not per report: deliveries of two windows to one chat would interleave their
        messages and share the chat's flood limit.
        """
        held = False
        try:
            with tenant_lock(
                self.cp, self.slug, TELEGRAM_DELIVERY, timeout_seconds=self.lock_timeout_seconds
            ):
                held = True
                yield
        except LockTimeout as exc:
            if held:  # raised by the delivery itself, not by our wait
                raise
            raise DeliveryBusy(
                f"another Telegram delivery of tenant {self.slug!r} has been running for over "
                f"{self.lock_timeout_seconds:g} s; try again when it is done"
            ) from exc

    def load_delivery(self, report_id: int) -> dict[str, Any]:
        return dict(self.cp.reports.get_report(report_id).delivery or {})

    def save_delivery(self, report_id: int, delivery: dict[str, Any]) -> None:
        # update_report merges top-level keys into the stored metadata; callers pass every key they
        # mean to change (a resend resets parts/message_ids/completed explicitly).
        self.cp.reports.update_report(report_id, delivery=delivery)

    def mark_report(self, report_id: int, status: str, error: str | None = None) -> None:
        self.cp.reports.set_status(report_id, status, error=error)
        details: dict[str, Any] = {"report_id": report_id}
        if error:
            details["error"] = error
        self.cp.audit.record(self.actor, f"report.{status}", self.slug, details)

    def save_chat_id(self, chat_id: int | str, attempts: int = 3) -> None:
        """Store the supergroup id Telegram gave us, guarded by the config version read just before."""
        for attempt in range(attempts):
            record = self.cp.configs.get_record(self.slug, "telegram")
            if str(record.config.chat_id) == str(chat_id):
                return
            try:
                self.cp.configs.update_config_fields(
                    self.slug, "telegram", {"chat_id": chat_id}, record.version, actor=self.actor
                )
                return
            except ConcurrentUpdateError:
                if attempt == attempts - 1:
                    raise

    def mark_integration_error(self, message: str) -> None:
        self.cp.configs.set_config_status(self.slug, "telegram", "error", error=message, actor=self.actor)

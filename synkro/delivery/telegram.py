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
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import SecretStr
from telegram import Bot
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.request import HTTPXRequest

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
    def last_message_id(self, chat_id: int | str) -> int:
        """The newest message id earlier deliveries of this tenant confirmed in the chat (0: none)."""
        ...

    def mark_integration_error(self, message: str) -> None: ...


@dataclass
class TelegramTarget:
    """Bot token (secret), chat id and API base URL; repr never shows the token."""

    bot_token: SecretStr
    chat_id: int | str
    base_url: str = DEFAULT_BASE_URL
    # How long to wait for Telegram's answer; past it the outcome is ambiguous (see Sender).
    read_timeout: float = 10.0

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
        request = HTTPXRequest(read_timeout=self.read_timeout)
        return Bot(self.bot_token.get_secret_value(), base_url=f"{self.base_url}/bot", request=request)


@dataclass
class DeliveryResult:
    status: str  # sent | already_sent | failed
    message_ids: list[int] = field(default_factory=list)
    chat_id: int | str | None = None
    plain_text_fallbacks: int = 0
    error: str | None = None


@dataclass(frozen=True)
class Found:
    """A part Telegram had accepted although its answer never reached us (found by reconciling)."""

    message_id: int


# Reconciling scans message ids after the last one we know; it stops after this many ids in a row
# that do not exist (a deleted message also answers "not found", so one is not proof of the end),
# and gives up after MAX_PROBES ids (a busy group) rather than guess.
ABSENT_IN_A_ROW = 3
MAX_PROBES = 60


class Sender:
    """Runs one Telegram call with RetryAfter / ChatMigrated / network retry handling.

    A network error (timeout, dropped connection, 5xx) is ambiguous: Telegram may have accepted the
    message. Before any resend the caller's ``reconcile`` looks for it in the chat; only when it is
    not there is the call repeated, so an ambiguous outcome never becomes a duplicate.
    """

    def __init__(
        self, target: TelegramTarget, store: DeliveryStore, sleep: Callable[[float], Awaitable[Any]]
    ) -> None:
        self.target = target
        self.store = store
        self.sleep = sleep
        self.chat_id = target.chat_id

    async def call(
        self,
        send: Callable[[int | str], Awaitable[Any]],
        reconcile: Callable[[], Awaitable[Found | None]] | None = None,
    ) -> Any:
        network_failures = 0
        rate_limited = 0
        unsure = False  # the last attempt may have reached Telegram: look before sending again
        while True:
            try:
                if unsure and reconcile is not None and (found := await reconcile()) is not None:
                    return found
                unsure = False
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
                unsure = True  # also when reconciling itself failed: it is retried, not skipped
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


async def send_html_or_plain(
    bot: Bot,
    sender: Sender,
    text: str,
    *,
    reconcile: Callable[[str], Callable[[], Awaitable[Found | None]]] | None = None,
    before_plain: Callable[[], None] | None = None,
) -> tuple[Any, bool]:
    """Send HTML; if Telegram cannot parse it, send the same content as plain text (once).

    ``reconcile(variant)`` gives the Sender its way to look for an ambiguous send of that variant;
    ``before_plain`` runs before the fallback (the delivery records its new "attempting" marker).
    """
    try:
        msg = await sender.call(
            lambda chat: bot.send_message(
                chat, text, parse_mode=ParseMode.HTML, disable_web_page_preview=True
            ),
            reconcile("html") if reconcile else None,
        )
        return msg, False
    except BadRequest as exc:
        if not _is_parse_error(exc):
            raise
    if before_plain is not None:
        before_plain()
    plain = to_plain_text(text)
    msg = await sender.call(
        lambda chat: bot.send_message(chat, plain), reconcile("plain") if reconcile else None
    )
    return msg, True


# Each media part's caption; a reconciling probe that changed another media message restores it.
MEDIA_CAPTIONS = {"photo": "Менеджеры", "document": "Полный отчёт"}


@dataclass
class Part:
    """One message of a report: its key in the delivery record and what it carries."""

    key: str  # text:<i> | chart | document
    kind: str  # text | photo | document
    text: str = ""  # HTML (text parts)
    caption: str = ""
    content: bytes = b""
    filename: str = ""


def report_parts(report: Report) -> list[Part]:
    parts = [Part(f"text:{i}", "text", text=t) for i, t in enumerate(telegram_messages(report))]
    png = manager_chart_png(report) if report.kind == "full" else None
    if png:
        parts.append(Part("chart", "photo", caption=MEDIA_CAPTIONS["photo"], content=png))
    doc = html_document(report).encode("utf-8")
    parts.append(
        Part(
            "document",
            "document",
            caption=MEDIA_CAPTIONS["document"],
            content=doc,
            filename=document_filename(report),
        )
    )
    return parts


class AmbiguousDelivery(RuntimeError):
    """A part may or may not be in the chat and reconciling could not tell; never guessed."""


async def probe_message(bot: Bot, chat_id: int | str, message_id: int, part: Part, variant: str) -> str:
    """Is message `message_id` of the chat this part? ``ours`` | ``absent`` | ``other``.

    Why editing: the Bot API cannot read a chat's history, but an edit to the identical content
    answers "message is not modified" for exactly the bot's own message with that content, "message
    to edit not found" for an id that does not exist, and another refusal for anything else. Ids
    probed are newer than every part confirmed so far and the tenant's delivery lock is held, so a
    text edit that does change a message can only hit a bot message that is not a report part (a
    ``check --send-test`` line); it then *is* this part, which is what we wanted in the chat.
    """
    try:
        if part.kind == "text":
            plain = variant == "plain"
            await bot.edit_message_text(
                to_plain_text(part.text) if plain else part.text,
                chat_id=chat_id,
                message_id=message_id,
                parse_mode=None if plain else ParseMode.HTML,
                disable_web_page_preview=True,
            )
            return "ours"
        edited = await bot.edit_message_caption(chat_id=chat_id, message_id=message_id, caption=part.caption)
    except BadRequest as exc:
        text = exc.message.lower()
        if "not modified" in text:
            return "ours"
        if "not found" in text:
            return "absent"
        return "other"
    # Another media message of the bot (its caption differed): put back the caption its kind carries.
    kind = (
        "photo" if getattr(edited, "photo", None) else "document" if getattr(edited, "document", None) else ""
    )
    if kind in MEDIA_CAPTIONS:
        with suppress(BadRequest):
            await bot.edit_message_caption(
                chat_id=chat_id, message_id=message_id, caption=MEDIA_CAPTIONS[kind]
            )
    return "other"


async def find_after(bot: Bot, chat_id: int | str, after: int, part: Part, variant: str) -> Found | None:
    """Look for the part among the ids after `after` (the newest id known before it was sent)."""
    absent = 0
    for message_id in range(after + 1, after + 1 + MAX_PROBES):
        verdict = await probe_message(bot, chat_id, message_id, part, variant)
        if verdict == "ours":
            return Found(message_id)
        absent = absent + 1 if verdict == "absent" else 0
        if absent >= ABSENT_IN_A_ROW:
            return None
    raise AmbiguousDelivery(
        f"could not tell whether report part {part.key} reached the chat (over {MAX_PROBES} newer messages); "
        "look at the chat and deliver again with --resend if it is missing"
    )


async def find_before(bot: Bot, chat_id: int | str, before: int, part: Part, variant: str) -> Found | None:
    """Look for the part among the ids just below `before` (a part confirmed after it was sent)."""
    for message_id in range(before - 1, max(0, before - 1 - MAX_PROBES), -1):
        if await probe_message(bot, chat_id, message_id, part, variant) == "ours":
            return Found(message_id)
    return None


async def message_exists(bot: Bot, chat_id: int | str, message_id: int) -> bool:
    """Does the chat have a message with this id? Asked without changing it.

    Removing the reply markup of a message that has none answers "not modified" (the bot's) or a
    refusal (someone else's); an id never used answers "message to edit not found". Report parts
    carry no markup, so no part is ever altered by asking.
    """
    try:
        await bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id, reply_markup=None)
    except BadRequest as exc:
        return "not found" not in exc.message.lower()
    return True


async def newest_message_id(bot: Bot, chat_id: int | str) -> int:
    """The chat's newest message id (0: none), found by doubling then bisecting over ids.

    Needed before the first delivery to a chat (no id known to look from); Telegram hands out ids
    in ascending order per chat. A chat whose history was deleted can hide its newest id here.
    """
    high = 1
    while await message_exists(bot, chat_id, high):
        high *= 2
    low = high // 2  # exists (or 0); high does not
    while high - low > 1:
        middle = (low + high) // 2
        if await message_exists(bot, chat_id, middle):
            low = middle
        else:
            high = middle
    return low


async def reconcile_part(bot: Bot, chat_id: int | str, after: int, part: Part, variant: str) -> Found | None:
    """Found (the part is in the chat, newer than `after`) or None (it is not: send it)."""
    return await find_after(bot, chat_id, after, part, variant)


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


class _Delivery:
    """One delivery's record: parts confirmed, parts being attempted, and how it is saved.

    ``attempting`` maps a part to the marker saved *before* its request (variant sent, chat, newest
    message id known before it); a crash or an ambiguous answer leaves it for reconciling.
    """

    def __init__(self, store: DeliveryStore, report_id: int, delivery: dict[str, Any], sender: Sender):
        self.store = store
        self.report_id = report_id
        self.record = delivery
        self.sender = sender
        self.done: dict[str, int] = dict(delivery.get("parts", {}))
        delivery.setdefault("message_ids", [])
        delivery["attempting"] = dict(delivery.get("attempting") or {})
        self.measured: dict[str, int] = {}

    def save(self) -> None:
        _retry_on_database_loss(lambda: self.store.save_delivery(self.report_id, self.record))

    def last_known_id(self) -> int:
        """The newest message id known in the current chat: ours so far, earlier reports', or measured."""
        if str(self.record.get("chat_id", self.sender.chat_id)) == str(self.sender.chat_id) and self.done:
            return max(self.done.values())
        return self.store.last_message_id(self.sender.chat_id) or self.measured.get(
            str(self.sender.chat_id), 0
        )

    async def measure_baseline(self, bot: Bot) -> None:
        """Before the first part to a chat we know no id of, find its newest message id once.

        Why: an ambiguous part is then looked for only among newer ids, never among older bot
        messages (whose text an identical-content probe could rewrite).
        """
        chat = str(self.sender.chat_id)
        if chat not in self.measured and self.last_known_id() == 0:
            self.measured[chat] = await newest_message_id(bot, self.sender.chat_id)

    def pending(self, part: Part) -> dict[str, Any] | None:
        return self.record["attempting"].get(part.key)

    def attempt(self, part: Part, variant: str) -> None:
        self.record["attempting"] = {
            **self.record["attempting"],
            part.key: {"variant": variant, "chat_id": self.sender.chat_id, "after": self.last_known_id()},
        }
        self.save()

    def forget(self, part: Part) -> None:
        self.record["attempting"] = {k: v for k, v in self.record["attempting"].items() if k != part.key}

    def confirm(self, part: Part, message_id: int) -> None:
        self.done[part.key] = message_id
        self.record["parts"] = self.done
        self.record["message_ids"] = [*self.record["message_ids"], message_id]
        self.record["chat_id"] = self.sender.chat_id
        self.forget(part)
        self.save()


def _retry_on_database_loss(save: Callable[[], None], attempts: int = 8) -> None:
    """Saving a confirmed part survives a Postgres restart: losing the record would mean a resend."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    for attempt in range(attempts):
        try:
            save()
            return
        except (OperationalError, DBAPIError) as exc:
            lost = isinstance(exc, OperationalError) or exc.connection_invalidated
            if attempt == attempts - 1 or not lost:
                raise
            time.sleep(min(2**attempt * 0.25, 4.0))


async def _send_part(bot: Bot, state: _Delivery, part: Part) -> tuple[int, bool]:
    """Send one part, reconciling every ambiguous outcome: (message id, fell back to plain text)."""
    sender = state.sender
    pending = state.pending(part)
    if pending is not None and str(pending.get("chat_id")) == str(sender.chat_id):
        # A previous run died, or timed out, on this very part: look before sending.
        found = await reconcile_part(
            bot, sender.chat_id, int(pending.get("after") or 0), part, pending["variant"]
        )
        if found is not None:
            return found.message_id, pending["variant"] == "plain"

    await state.measure_baseline(bot)

    def reconciler(variant: str) -> Callable[[], Awaitable[Found | None]]:
        after = int(state.record["attempting"][part.key]["after"])
        return lambda: reconcile_part(bot, sender.chat_id, after, part, variant)

    if part.kind == "text":
        state.attempt(part, "html")
        msg, fell_back = await send_html_or_plain(
            bot, sender, part.text, reconcile=reconciler, before_plain=lambda: state.attempt(part, "plain")
        )
        return msg.message_id, fell_back
    state.attempt(part, "media")
    if part.kind == "photo":
        msg = await sender.call(
            lambda chat: bot.send_photo(chat, photo=part.content, caption=part.caption), reconciler("media")
        )
    else:
        msg = await sender.call(
            lambda chat: bot.send_document(
                chat, document=part.content, filename=part.filename, caption=part.caption
            ),
            reconciler("media"),
        )
    return msg.message_id, False


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
        delivery = {
            "history": history,
            "completed": False,
            "sent_at": None,
            "parts": {},
            "message_ids": [],
            "attempting": {},
        }
        store.save_delivery(report_id, delivery)
    sender = Sender(target, store, sleep)
    state = _Delivery(store, report_id, delivery, sender)
    result = DeliveryResult("sent", chat_id=target.chat_id)
    try:
        async with target.bot() as bot:
            for part in report_parts(report):
                if part.key in state.done:
                    continue
                message_id, fell_back = await _send_part(bot, state, part)
                result.plain_text_fallbacks += fell_back
                state.confirm(part, message_id)

    except (Forbidden, InvalidToken, BadRequest, AmbiguousDelivery) as exc:
        message = str(exc) if isinstance(exc, AmbiguousDelivery) else exc.message
        dead = None if isinstance(exc, AmbiguousDelivery) else _dead_destination(exc)
        reason = dead or f"Telegram rejected the report: {message}"
        if dead:
            store.mark_integration_error(reason)
        store.mark_report(report_id, "failed", reason)
        result.status, result.error = "failed", reason
        result.message_ids = list(delivery["message_ids"])
        raise DeliveryFailed(reason) from None
    delivery |= {"completed": True, "sent_at": datetime.now(UTC).isoformat(), "chat_id": sender.chat_id}
    delivery["plain_text_fallbacks"] = result.plain_text_fallbacks
    state.save()
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

    def last_message_id(self, chat_id: int | str) -> int:
        newest = 0
        for report in self.cp.reports.list_reports(self.slug, limit=200):
            delivery = report.delivery or {}
            for record in [delivery, *delivery.get("history", [])]:
                if str(record.get("chat_id")) == str(chat_id) and record.get("parts"):
                    newest = max(newest, *record["parts"].values())
        return newest

    def mark_integration_error(self, message: str) -> None:
        self.cp.configs.set_config_status(self.slug, "telegram", "error", error=message, actor=self.actor)

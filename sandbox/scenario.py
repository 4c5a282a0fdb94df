"""Deterministic tenant data for the sandbox: managers, pipelines, leads, contacts, chats, dialogs.

Everything derives from (seed, size, now), so two runs with the same arguments serve identical
data and tests can compare pipeline output with `ground_truth()`. Rows are NamedTuples (plain
tuples in memory) and dialog messages are rebuilt on demand from a per-chat seed, which keeps the
`large` scenario (50,000 leads) well under the sandbox's memory budget.

Phones are written the way people type them (`+7 (912) 345-67-89`, `8 912 345 67 89`,
`9123456789`, extensions, notes, foreign numbers), some contacts share a phone, some have none,
and Radist chats carry the same numbers in yet other spellings. A final pass (`_awkward_phones`,
its own random stream so the rest of the world stays as it was) rewrites some values into the
forms real CRM users produce: several numbers in one value, names around them, a WhatsApp id, a
foreign number without `+`, a number split over two values — and some chats then come from a
number that is not the value's first. The generator knows every
phone's E.164 form by construction; the ground truth applies the matching rules of the modeling
issue to that knowledge (see `_match`).
"""

from __future__ import annotations

import random
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sandbox import scenario_data as data
from sandbox.dialogs import (
    INJECTION_PATTERN,
    PATTERN_BY_NAME,
    PATTERNS,
    DialogContext,
    Message,
    build_continuation,
    build_dialog,
)

SIZES = {"small": 50, "medium": 2_000, "large": 50_000}

ACCOUNT_ID = 30123456
FIRST_LEAD_ID = 31457001
FIRST_CONTACT_ID = 45678901
FIRST_USER_ID = 8123456
FIRST_PIPELINE_ID = 7345678
FIRST_STATUS_ID = 61234567
FIRST_CHAT_ID = 452367
FIRST_RADIST_CONTACT_ID = 9100001
PHONE_FIELD_ID = 264911
EMAIL_FIELD_ID = 264913
PHONE_ENUMS = {"WORK": 393001, "MOB": 393005, "HOME": 393007, "OTHER": 393009}
EMAIL_ENUMS = {"WORK": 393011, "PRIV": 393013}
# Radist connections: (id, type, name)
CONNECTIONS = (
    (643, "whatsapp", "WhatsApp отдела продаж"),
    (644, "waba", "WABA"),
    (701, "telegram", "Telegram"),
)

DAY = 86400


class User(NamedTuple):
    id: int
    name: str
    email: str


class Status(NamedTuple):
    id: int
    name: str
    sort: int
    type: int
    pipeline_id: int
    color: str


class Pipeline(NamedTuple):
    id: int
    name: str
    sort: int
    is_main: bool
    statuses: tuple[Status, ...]


class Lead(NamedTuple):
    id: int
    name: str
    price: int
    responsible_user_id: int
    status_id: int
    pipeline_id: int
    created_at: int
    updated_at: int
    closed_at: int | None
    contacts: tuple[tuple[int, bool], ...]  # (contact_id, is_main)


class Phone(NamedTuple):
    raw: str
    e164: str | None  # the value's first number; None for junk that is not a phone number
    enum_code: str
    more: tuple[str, ...] = ()  # further numbers typed into the same value, in order
    form: str = "plain"  # which awkward spelling (AWKWARD_FORMS) made the value, if any

    @property
    def numbers(self) -> tuple[str, ...]:
        """Every number of the value (each one a matching key), E.164, in order."""
        return ((self.e164,) if self.e164 else ()) + self.more


class Contact(NamedTuple):
    id: int
    name: str
    first_name: str
    last_name: str
    responsible_user_id: int
    created_at: int
    updated_at: int
    phones: tuple[Phone, ...]
    email: str | None


class Chat(NamedTuple):
    chat_id: int
    radist_contact_id: int
    contact_name: str
    connection_id: int
    phone: str  # as Radist spells it, may be ""
    source_chat_id: str
    e164: str | None  # by construction
    pattern: str
    dialog_seed: int
    start_ms: int
    end_ms: int
    n_messages: int
    manager_id: int


class Event(NamedTuple):
    """An amoCRM event (`GET /api/v4/events`); ids are strings, as in amoCRM."""

    id: str
    type: str  # lead_added | lead_deleted | contact_added | contact_deleted
    entity_id: int
    entity_type: str  # lead | contact
    created_by: int
    created_at: int


_ULID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def event_id(rng: random.Random, created_at: int) -> str:
    """ULID-like: 10 time characters then 16 random ones, lowercase like amoCRM's."""
    millis = created_at * 1000 + rng.randrange(1000)
    head = "".join(_ULID_ALPHABET[(millis >> (5 * i)) & 31] for i in reversed(range(10)))
    return head + "".join(rng.choice(_ULID_ALPHABET) for _ in range(16))


@dataclass
class Scenario:
    """The generated world; `advance()` moves it forward for incremental tests."""

    seed: int
    size: str
    now: float
    users: list[User] = field(default_factory=list)
    pipelines: list[Pipeline] = field(default_factory=list)
    leads: list[Lead] = field(default_factory=list)
    contacts: list[Contact] = field(default_factory=list)
    chats: list[Chat] = field(default_factory=list)
    contact_names: dict[int, str] = field(default_factory=dict)  # radist contact id -> name
    generation: int = 0
    # Bumped on every change so emulators can drop their caches.
    version: int = 0
    continuations: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # chat -> [(gen, start_ms)]
    # amoCRM events written by `advance()`, oldest first, and the trash (`with=only_deleted`):
    # (lead, deleted_at) for leads deleted and not purged.
    events: list[Event] = field(default_factory=list)
    trash: list[tuple[Lead, int]] = field(default_factory=list)
    _dialog_cache: OrderedDict[int, list[Message]] = field(default_factory=OrderedDict)
    _lead_index: dict[int, int] = field(default_factory=dict)
    _contact_index: dict[int, int] = field(default_factory=dict)
    _chat_index: dict[int, int] = field(default_factory=dict)

    # ---- lookups -------------------------------------------------------------------------
    def lead(self, lead_id: int) -> Lead | None:
        i = self._lead_index.get(lead_id)
        return None if i is None else self.leads[i]

    def contact(self, contact_id: int) -> Contact | None:
        i = self._contact_index.get(contact_id)
        return None if i is None else self.contacts[i]

    def chat(self, chat_id: int) -> Chat | None:
        i = self._chat_index.get(chat_id)
        return None if i is None else self.chats[i]

    def contact_leads(self) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for lead in self.leads:
            for cid, _ in lead.contacts:
                out.setdefault(cid, []).append(lead.id)
        return out

    def messages(self, chat_id: int) -> list[Message]:
        """All messages of a chat, oldest first; rebuilt from the chat's seed, LRU-cached."""
        cached = self._dialog_cache.get(chat_id)
        if cached is not None:
            self._dialog_cache.move_to_end(chat_id)
            return cached
        chat = self.chat(chat_id)
        if chat is None:
            return []
        msgs = self._base_dialog(chat)
        for gen, start_ms in self.continuations.get(chat_id, []):
            rng = random.Random(f"{self.seed}:{chat_id}:cont:{gen}")
            awaiting = msgs[-1].direction == "inbound"
            msgs = msgs + build_continuation(rng, awaiting, start_ms)
        self._dialog_cache[chat_id] = msgs
        if len(self._dialog_cache) > 4096:
            self._dialog_cache.popitem(last=False)
        return msgs

    def _base_dialog(self, chat: Chat) -> list[Message]:
        rng = random.Random(chat.dialog_seed)
        manager = self.users[(chat.manager_id - FIRST_USER_ID) % len(self.users)].name
        product, low, high = rng.choice(data.PRODUCTS)
        price = rng.randrange(low, high, 500)
        ctx = DialogContext(
            customer=chat.contact_name.split()[0] if chat.contact_name else "",
            manager=manager,
            product=product,
            price=price,
            surname=rng.choice(data.SURNAMES),
            is_waba=chat.connection_id == 644,
        )
        return build_dialog(rng, chat.pattern, chat.start_ms, ctx)

    # ---- ground truth ----------------------------------------------------------------------
    def ground_truth(self) -> dict[str, Any]:
        """Per chat: expected contact and lead (modeling rules), quality and risk flags."""
        by_phone: dict[str, list[int]] = {}
        for contact in self.contacts:
            for phone in contact.phones:
                for number in phone.numbers:
                    if contact.id not in by_phone.get(number, []):
                        by_phone.setdefault(number, []).append(contact.id)
        contact_leads = self.contact_leads()
        chats = []
        for chat in self.chats:
            contact_id, lead_id, status, candidates = self._match(chat, by_phone, contact_leads)
            pattern = PATTERN_BY_NAME[chat.pattern]
            msgs = self.messages(chat.chat_id)
            chats.append(
                {
                    "chat_id": chat.chat_id,
                    "phone_raw": chat.phone,
                    "phone_e164": chat.e164,
                    "match_status": status,
                    "contact_id": contact_id,
                    "lead_id": lead_id,
                    "candidate_contact_ids": candidates,
                    "pattern": pattern.name,
                    "quality": pattern.quality,
                    "risk_flags": list(pattern.flags),
                    "injection": pattern.name == INJECTION_PATTERN,
                    "awaiting_reply": msgs[-1].direction == "inbound",
                    "messages_total": len(msgs),
                    "messages_inbound": sum(1 for m in msgs if m.direction == "inbound"),
                }
            )
        return {
            "seed": self.seed,
            "size": self.size,
            "now": self.now,
            "generation": self.generation,
            "matching_rules": (
                "chat matches contacts carrying its E.164 phone; with several, the one with the most "
                "recently updated open lead wins (then latest closed lead, then lowest id) and the match "
                "is 'ambiguous'; the dialog belongs to the contact's most recently updated open lead, "
                "else its latest closed lead, else none; chats with no such contact are 'unmatched'"
            ),
            "phones": {
                str(c.id): [
                    {"raw": p.raw, "e164": p.e164, "numbers": list(p.numbers), "form": p.form}
                    for p in c.phones
                ]
                for c in self.contacts
                if c.phones
            },
            "chats": chats,
        }

    def _lead_rank(self, lead_id: int) -> tuple[int, int]:
        """Sort key: open leads above closed ones, then by updated_at."""
        lead = self.leads[self._lead_index[lead_id]]
        is_open = lead.status_id not in (data.WON, data.LOST)
        return (1 if is_open else 0, lead.updated_at)

    def _best_lead(self, contact_id: int, contact_leads: dict[int, list[int]]) -> int | None:
        leads = contact_leads.get(contact_id, [])
        return max(leads, key=self._lead_rank) if leads else None

    def _match(
        self, chat: Chat, by_phone: dict[str, list[int]], contact_leads: dict[int, list[int]]
    ) -> tuple[int | None, int | None, str, list[int]]:
        candidates = sorted(by_phone.get(chat.e164 or "", []))
        if not candidates:
            return None, None, "unmatched", []

        def rank(cid: int) -> tuple[int, int, int]:
            best = self._best_lead(cid, contact_leads)
            if best is None:
                return (-1, 0, -cid)
            is_open, updated = self._lead_rank(best)
            return (is_open, updated, -cid)

        contact_id = max(candidates, key=rank)
        status = "ambiguous" if len(candidates) > 1 else "matched"
        return contact_id, self._best_lead(contact_id, contact_leads), status, candidates

    # ---- evolution -------------------------------------------------------------------------
    def advance(
        self, now: float | None = None, *, inserts: bool = True, deletions: bool = True
    ) -> dict[str, Any]:
        """Move the world forward: rows updated, added and deleted; some chats get new messages.

        Used by incremental-load tests: `updated_at` of the touched rows becomes the new `now`
        (several share one second, as bulk edits do in amoCRM). With `inserts`, new customers
        arrive (a contact with a phone and a lead each, `*_added` events); with `deletions`, one
        lead goes to the trash (`lead_deleted`, visible via `with=only_deleted`) and one contact
        without leads is deleted (`contact_deleted`). Deletions never show up in `updated_at`
        order, exactly the gap amocrm.md §3.3 describes.
        """
        new_now = float(now) if now is not None else max(time.time(), self.now + 60)
        self.generation += 1
        rng = random.Random(f"{self.seed}:advance:{self.generation}")
        stamp = int(new_now) - 30
        n_leads = max(1, len(self.leads) // 20)
        touched_leads = rng.sample(range(len(self.leads)), n_leads)
        for i in touched_leads:
            lead = self.leads[i]
            status, closed = lead.status_id, lead.closed_at
            if status not in (data.WON, data.LOST) and rng.random() < 0.3:
                status, closed = rng.choice((data.WON, data.LOST)), stamp
            self.leads[i] = lead._replace(
                updated_at=stamp, status_id=status, closed_at=closed, price=lead.price + rng.choice((0, 5000))
            )
        n_contacts = max(1, len(self.contacts) // 30)
        for i in rng.sample(range(len(self.contacts)), n_contacts):
            self.contacts[i] = self.contacts[i]._replace(updated_at=stamp)
        n_chats = max(1, len(self.chats) // 20)
        touched_chats = rng.sample(range(len(self.chats)), n_chats)
        for i in touched_chats:
            chat = self.chats[i]
            start = max(chat.end_ms + 60_000, int(new_now * 1000) - 600_000)
            self.continuations.setdefault(chat.chat_id, []).append((self.generation, start))
            self._dialog_cache.pop(chat.chat_id, None)
            msgs = self.messages(chat.chat_id)
            self.chats[i] = chat._replace(end_ms=msgs[-1].ts_ms, n_messages=len(msgs))
        updated_leads = sorted(self.leads[i].id for i in touched_leads)
        updated_chats = sorted(self.chats[i].chat_id for i in touched_chats)
        added = self._add_customers(rng, stamp) if inserts else ([], [])
        deleted = self._delete_some(rng, stamp, set(updated_leads)) if deletions else ([], [])
        self.now = new_now
        self.reindex()
        return {
            "updated_leads": updated_leads,
            "updated_chats": updated_chats,
            "added_leads": added[0],
            "added_contacts": added[1],
            "deleted_leads": deleted[0],
            "deleted_contacts": deleted[1],
            "updated_at": stamp,
        }

    def _event(self, rng: random.Random, kind: str, entity_id: int, stamp: int, by: int) -> None:
        entity = kind.split("_", 1)[0]
        self.events.append(Event(event_id(rng, stamp), kind, entity_id, entity, by, stamp))

    def _add_customers(self, rng: random.Random, stamp: int) -> tuple[list[int], list[int]]:
        """New contacts (each with a fresh Russian mobile) and one open lead per contact."""
        n = max(1, len(self.contacts) // 50)
        next_contact = max(c.id for c in self.contacts) + 7
        next_lead = max([lead.id for lead in self.leads] + [lead.id for lead, _ in self.trash]) + 3
        used = {p.e164 for c in self.contacts for p in c.phones}
        pipeline = self.pipelines[0]
        open_statuses = [st.id for st in pipeline.statuses if st.id not in (data.WON, data.LOST)]
        lead_ids, contact_ids = [], []
        for k in range(n):
            first, last = _person(rng)
            number = _ru_mobile(rng)
            while f"+7{number}" in used:
                number = _ru_mobile(rng)
            used.add(f"+7{number}")
            user = rng.choice(self.users).id
            cid, lid = next_contact + 7 * k, next_lead + 3 * k
            phone = Phone(_spell_ru(rng, number)[0], f"+7{number}", "MOB")
            self.contacts.append(
                Contact(cid, f"{first} {last}", first, last, user, stamp, stamp, (phone,), None)
            )
            _, low, high = rng.choice(data.PRODUCTS)
            self.leads.append(
                Lead(
                    lid,
                    rng.choice(data.LEAD_TITLES),
                    rng.randrange(low, high, 1000),
                    user,
                    open_statuses[0],
                    pipeline.id,
                    stamp,
                    stamp,
                    None,
                    ((cid, True),),
                )
            )
            self._event(rng, "contact_added", cid, stamp, user)
            self._event(rng, "lead_added", lid, stamp, user)
            lead_ids.append(lid)
            contact_ids.append(cid)
        # Plus one contact without a deal (a call that led nowhere yet): no phone, no lead.
        first, last = _person(rng)
        cid, user = next_contact + 7 * n, rng.choice(self.users).id
        self.contacts.append(Contact(cid, f"{first} {last}", first, last, user, stamp, stamp, (), None))
        self._event(rng, "contact_added", cid, stamp, user)
        contact_ids.append(cid)
        return lead_ids, contact_ids

    def _delete_some(self, rng: random.Random, stamp: int, keep: set[int]) -> tuple[list[int], list[int]]:
        """One lead to the trash and one lead-less contact deleted, each with its event.

        Only contacts without leads are deleted, so no lead loses a link (whether that would bump
        the lead's `updated_at` is unconfirmed). The lead-less contact each `advance()` adds
        keeps one available (in the first generation possibly the one just added).
        """
        lead_ids: list[int] = []
        candidates = [i for i, lead in enumerate(self.leads) if lead.id not in keep]
        if candidates:
            lead = self.leads.pop(rng.choice(candidates))
            self.trash.append((lead, stamp))
            self._event(rng, "lead_deleted", lead.id, stamp, lead.responsible_user_id)
            lead_ids.append(lead.id)
        linked = {cid for lead in self.leads for cid, _ in lead.contacts}
        linked |= {cid for lead, _ in self.trash for cid, _ in lead.contacts}  # restorable leads
        orphans = [i for i, c in enumerate(self.contacts) if c.id not in linked]
        # Prefer contacts that existed before this generation; else the one just added.
        orphans = [i for i in orphans if self.contacts[i].created_at != stamp] or orphans
        contact_ids: list[int] = []
        if orphans:
            contact = self.contacts.pop(rng.choice(orphans))
            self._event(rng, "contact_deleted", contact.id, stamp, contact.responsible_user_id)
            contact_ids.append(contact.id)
        return lead_ids, contact_ids

    def reindex(self) -> None:
        self._lead_index = {lead.id: i for i, lead in enumerate(self.leads)}
        self._contact_index = {c.id: i for i, c in enumerate(self.contacts)}
        self._chat_index = {c.chat_id: i for i, c in enumerate(self.chats)}
        self.version += 1


# ---- generation ----------------------------------------------------------------------------


def _person(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.5:
        return rng.choice(data.MALE_FIRST), rng.choice(data.SURNAMES)
    surname = rng.choice(data.SURNAMES)
    return rng.choice(data.FEMALE_FIRST), surname + "а"


def _ru_mobile(rng: random.Random) -> str:
    """10 national digits of a valid Russian mobile number (9xx)."""
    return f"9{rng.choice(('12', '16', '26', '03', '85', '99', '62', '77'))}{rng.randrange(10**7):07d}"


def _spell_ru(rng: random.Random, n: str) -> tuple[str, bool]:
    """How a person types a +7 number into amoCRM; second value: has an extension/note."""
    a, b, c, d = n[:3], n[3:6], n[6:8], n[8:]
    forms = (
        f"+7 ({a}) {b}-{c}-{d}",
        f"8 {a} {b} {c} {d}",
        f"7{n}",
        n,
        f"+7{n}",
        f"8({a}){b}{c}{d}",
        f"8-{a}-{b}-{c}-{d}",
    )
    roll = rng.random()
    if roll < 0.06:
        return f"+7 {a} {b}-{c}-{d} доб. {rng.randint(10, 999)}", True
    if roll < 0.10:
        return f"+7 {a} {b}-{c}-{d} ({rng.choice(data.PHONE_NOTES)})", True
    return rng.choice(forms), False


def _spell_radist(rng: random.Random, n: str) -> str:
    """How Radist spells a +7 number of a chat: mostly WhatsApp digits, sometimes otherwise."""
    roll = rng.random()
    if roll < 0.7:
        return f"7{n}"
    if roll < 0.8:
        return f"+7{n}"
    if roll < 0.9:
        return f"8{n}"
    return n


def _foreign(rng: random.Random) -> tuple[str, str, str]:
    """(amoCRM spelling, Radist digits, E.164) of a foreign number."""
    template, cc, prefix = rng.choice(data.FOREIGN_NUMBERS)
    a, b, c = f"{rng.randrange(200, 1000)}", f"{rng.randrange(100):02d}", f"{rng.randrange(100):02d}"
    national = f"{prefix}{a}{b}{c}"
    return template.format(a=a, b=b, c=c), f"{cc}{national}", f"+{cc}{national}"


def generate_scenario(
    seed: int = 42, size: str = "small", now: float | None = None, *, awkward_phones: bool = True
) -> Scenario:
    """Build the scenario for `seed` and `size` relative to `now` (default: current time).

    `awkward_phones=False` leaves out the awkward phone forms (`_awkward_phones`); everything
    else, ids and dialogs included, is the same, which the matching regression test relies on.
    """
    if size not in SIZES:
        raise ValueError(f"size must be one of {sorted(SIZES)}")
    now = float(now) if now is not None else time.time()
    now_s = int(now)
    rng = random.Random(f"synkro-sandbox:{seed}:{size}")
    n_leads = SIZES[size]
    sc = Scenario(seed=seed, size=size, now=now)

    n_users = {"small": 4, "medium": 10, "large": 40}[size]
    for i in range(n_users):
        name = data.MANAGER_NAMES[i % len(data.MANAGER_NAMES)]
        if i >= len(data.MANAGER_NAMES):
            name = f"{name} {i // len(data.MANAGER_NAMES) + 1}"
        sc.users.append(User(FIRST_USER_ID + i, name, f"manager{i + 1}@sinkro-mebel.example"))
    user_ids = [u.id for u in sc.users]

    status_id = FIRST_STATUS_ID
    for p_index, (p_name, statuses) in enumerate(data.PIPELINES):
        pid = FIRST_PIPELINE_ID + p_index
        rows = []
        for s_name, s_sort, s_type in statuses:
            rows.append(Status(status_id, s_name, s_sort, s_type, pid, "#99ccff"))
            status_id += 1
        rows.append(Status(data.WON, "Успешно реализовано", 10000, 0, pid, "#CCFF66"))
        rows.append(Status(data.LOST, "Закрыто и не реализовано", 11000, 0, pid, "#D5D8DB"))
        sc.pipelines.append(Pipeline(pid, p_name, (p_index + 1) * 10, p_index == 0, tuple(rows)))

    # Contacts first; leads then pick their main contact (repeat customers get several leads).
    n_contacts = max(4, int(n_leads * 0.85))
    national_used: set[str] = set()
    contact_chat_phone: dict[int, tuple[str, str | None]] = {}  # contact -> (radist phone, e164)
    for i in range(n_contacts):
        cid = FIRST_CONTACT_ID + i * 7
        first, last = _person(rng)
        created = now_s - rng.randrange(20 * DAY, 90 * DAY)
        phones: list[Phone] = []
        roll = rng.random()
        if roll < 0.07:
            pass  # no phone at all
        elif roll < 0.12:
            spelled, digits, e164 = _foreign(rng)
            phones.append(Phone(spelled, e164, "MOB"))
            contact_chat_phone[cid] = (digits, e164)
        else:
            n = _ru_mobile(rng)
            while n in national_used:
                n = _ru_mobile(rng)
            national_used.add(n)
            spelled, _ = _spell_ru(rng, n)
            phones.append(Phone(spelled, f"+7{n}", rng.choice(("MOB", "WORK"))))
            contact_chat_phone[cid] = (_spell_radist(rng, n), f"+7{n}")
            if rng.random() < 0.1:
                n2 = _ru_mobile(rng)
                national_used.add(n2)
                phones.append(Phone(_spell_ru(rng, n2)[0], f"+7{n2}", "WORK"))
                if rng.random() < 0.5:  # the customer writes from the second number
                    contact_chat_phone[cid] = (_spell_radist(rng, n2), f"+7{n2}")
            if rng.random() < 0.02:
                phones.append(Phone(f"+7{n[:3]}", None, "OTHER"))  # truncated junk, as in real CRMs
        email = (
            f"{_translit(first)}.{_translit(last)}{rng.randint(1, 99)}@example.ru"
            if rng.random() < 0.4
            else None
        )
        sc.contacts.append(
            Contact(
                cid,
                f"{first} {last}",
                first,
                last,
                rng.choice(user_ids),
                created,
                created,
                tuple(phones),
                email,
            )
        )

    # Shared phones: ~4% of contacts carry another contact's number in a different spelling.
    with_ru_phone = [
        i
        for i, c in enumerate(sc.contacts)
        if c.phones and c.phones[0].e164 and c.phones[0].e164.startswith("+79")
    ]
    for i in rng.sample(with_ru_phone, max(1, len(with_ru_phone) // 25)):
        j = rng.choice(with_ru_phone)
        if i == j:
            continue
        donor = sc.contacts[j].phones[0]
        n = donor.e164[2:] if donor.e164 else ""
        spelled = _spell_ru(rng, n)[0]
        target = sc.contacts[i]
        sc.contacts[i] = target._replace(phones=(*target.phones, Phone(spelled, donor.e164, "HOME")))

    # Leads.
    contact_ids = [c.id for c in sc.contacts]
    sc.reindex()
    n_orphans = max(1, n_contacts // 30)  # contacts with no lead at all
    leadable = contact_ids[: n_contacts - n_orphans]
    used_updated: set[int] = set()
    for i in range(n_leads):
        lid = FIRST_LEAD_ID + i * 3
        main = leadable[i] if i < len(leadable) else rng.choice(leadable)
        pipeline = sc.pipelines[0] if rng.random() < 0.8 else sc.pipelines[1]
        roll = rng.random()
        if roll < 0.15:
            status = data.WON
        elif roll < 0.27:
            status = data.LOST
        else:
            status = rng.choice([s.id for s in pipeline.statuses if s.id not in (data.WON, data.LOST)])
        main_contact = sc.contact(main)
        assert main_contact is not None
        created = main_contact.created_at + rng.randrange(0, 15 * DAY)
        if i % 6 == 0:
            # New deals of the last days (a returning customer writes again), so daily reports
            # count new leads. Derived from the draw above: the rng sequence stays as it was.
            created = now_s - 3600 - (created - main_contact.created_at) % (3 * DAY)
        updated = now_s - rng.randrange(120, 7 * DAY)
        if updated < created:  # a new deal is touched after it was created
            updated = min(now_s - 60, created + (now_s - updated) % 7200)
        while updated in used_updated:  # unique seconds keep "most recently updated" unambiguous
            updated -= 1
        used_updated.add(updated)
        closed = updated - rng.randrange(0, 3600) if status in (data.WON, data.LOST) else None
        links: list[tuple[int, bool]] = [(main, True)]
        if rng.random() < 0.1:
            other = rng.choice(contact_ids)
            if other != main:
                links.append((other, False))
        _, low, high = rng.choice(data.PRODUCTS)
        price = rng.randrange(low, high, 1000) if rng.random() > 0.1 else 0
        sc.leads.append(
            Lead(
                lid,
                rng.choice(data.LEAD_TITLES),
                price,
                main_contact.responsible_user_id,
                status,
                pipeline.id,
                min(created, updated),
                updated,
                closed,
                tuple(links),
            )
        )
    # Bulk edit quirk: a robot stamps many leads with one second (more than a 250-row page on
    # medium/large) — only single-lead contacts, so ground-truth ordering stays unambiguous.
    counts: dict[int, int] = {}
    for lead in sc.leads:
        for cid, _ in lead.contacts:
            counts[cid] = counts.get(cid, 0) + 1
    bulk_second = now_s - 2 * DAY - 777
    bulk_size = {"small": 3, "medium": 300, "large": 600}[size]
    single = [i for i, lead in enumerate(sc.leads) if all(counts[c] == 1 for c, _ in lead.contacts)]
    for i in single[:bulk_size]:
        lead = sc.leads[i]
        sc.leads[i] = lead._replace(
            updated_at=bulk_second, closed_at=min(lead.closed_at, bulk_second) if lead.closed_at else None
        )
    # Contacts are touched when their leads are.
    latest: dict[int, int] = {}
    for lead in sc.leads:
        for cid, _ in lead.contacts:
            latest[cid] = max(latest.get(cid, 0), lead.updated_at)
    for i, contact in enumerate(sc.contacts):
        if contact.id in latest:
            sc.contacts[i] = contact._replace(
                updated_at=max(contact.created_at, latest[contact.id] - rng.randrange(0, 600))
            )

    # Radist chats.
    weights = [p.weight for p in PATTERNS]
    names = [p.name for p in PATTERNS]
    chat_id = FIRST_CHAT_ID
    radist_contact = FIRST_RADIST_CONTACT_ID

    def add_chat(
        phone: str, source: str, e164: str | None, display: str, connection: int, rc: int, manager: int
    ) -> None:
        nonlocal chat_id
        pattern = rng.choices(names, weights)[0]
        dialog_seed = rng.getrandbits(48)
        start_ms = (now_s - rng.randrange(3 * 3600, 4 * DAY)) * 1000 + rng.randrange(1000)
        chat = Chat(
            chat_id,
            rc,
            display,
            connection,
            phone,
            source,
            e164,
            pattern,
            dialog_seed,
            start_ms,
            0,
            0,
            manager,
        )
        sc.chats.append(chat)
        sc._chat_index[chat_id] = len(sc.chats) - 1
        chat_id += 1

    for contact in sc.contacts:
        if contact.id not in contact_chat_phone or rng.random() > 0.8:
            continue
        phone, e164 = contact_chat_phone[contact.id]
        display = (
            contact.first_name
            if rng.random() < 0.6
            else f"{contact.first_name} {rng.choice(data.WHATSAPP_NICKS)}"
        )
        connection = 643 if rng.random() < 0.85 else 644
        add_chat(
            phone,
            f"{e164.lstrip('+')}@c.us",
            e164,
            display,
            connection,
            radist_contact,
            contact.responsible_user_id,
        )
        if rng.random() < 0.08:  # the same person also writes in Telegram, without a phone
            add_chat(
                "",
                f"tg:{rng.randrange(10**8, 10**9)}",
                None,
                display,
                701,
                radist_contact,
                contact.responsible_user_id,
            )
        sc.contact_names[radist_contact] = display
        radist_contact += 1
    # Chats of people who are not in the CRM at all.
    for _ in range(max(2, len(sc.chats) // 8)):
        first, last = _person(rng)
        n = _ru_mobile(rng)
        while n in national_used:
            n = _ru_mobile(rng)
        national_used.add(n)
        phone = _spell_radist(rng, n)
        add_chat(phone, f"7{n}@c.us", f"+7{n}", first, 643, radist_contact, rng.choice(user_ids))
        sc.contact_names[radist_contact] = first
        radist_contact += 1

    # One chat of a CRM contact carries an injected instruction (see sandbox/dialogs.py); chosen
    # without drawing from the rng, so every other chat stays as it was.
    target = next((i for i, c in enumerate(sc.chats) if c.e164 and c.pattern == "bad_unanswered"), None)
    if target is not None:
        sc.chats[target] = sc.chats[target]._replace(pattern=INJECTION_PATTERN)

    # Build each dialog once to learn its end; shift dialogs that would end in the future.
    for i, chat in enumerate(sc.chats):
        msgs = sc._base_dialog(chat)
        overshoot = msgs[-1].ts_ms - (now_s - 60) * 1000
        if overshoot > 0:
            chat = chat._replace(start_ms=chat.start_ms - overshoot - rng.randrange(60_000, 3_600_000))
            msgs = sc._base_dialog(chat)
        sc.chats[i] = chat._replace(end_ms=msgs[-1].ts_ms, n_messages=len(msgs))
    if awkward_phones:
        _awkward_phones(sc, random.Random(f"synkro-sandbox:{seed}:{size}:awkward-phones"))
    sc.reindex()
    return sc


AWKWARD_FORMS = ("several", "names", "whatsapp", "foreign_bare", "split")
_SEPARATORS = (", ", " / ", "; ", " или ", "\n", ",", " или\n")
_RELATIVES = ("жена", "муж", "сын", "дочь", "секретарь", "офис")


def _awkward_phones(sc: Scenario, rng: random.Random) -> None:
    """Rewrite about one contact in eight with a Russian mobile into an awkward phone form.

    With `several` and `names` a second, fresh number joins the first value, and half the time the
    contact's chats move to it: those dialogs only link when every number of a value is a key.
    The first contacts that have chats get each form once, chats moved, so even the `small`
    scenario of the demo shows every form.
    """
    used = {n for c in sc.contacts for p in c.phones for n in p.numbers}
    used |= {c.e164 for c in sc.chats if c.e164}

    def fresh() -> str:
        n = _ru_mobile(rng)
        while f"+7{n}" in used:
            n = _ru_mobile(rng)
        used.add(f"+7{n}")
        return n

    chats_by_phone: dict[str, list[int]] = {}
    for i, chat in enumerate(sc.chats):
        if chat.e164:
            chats_by_phone.setdefault(chat.e164, []).append(i)

    def move_chats(old: str, n: str) -> None:
        for i in chats_by_phone.pop(old, []):
            sc.chats[i] = sc.chats[i]._replace(
                phone=_spell_radist(rng, n), source_chat_id=f"7{n}@c.us", e164=f"+7{n}"
            )

    pending = list(AWKWARD_FORMS)
    for ci, contact in enumerate(sc.contacts):
        first = contact.phones[0] if contact.phones else None
        if first is None or first.form != "plain":
            continue
        russian = (first.e164 or "").startswith("+79")
        forced = bool(pending) and russian and first.e164 in chats_by_phone
        if not forced and rng.random() > 0.13:
            continue
        if not russian:
            if rng.random() < 0.5:
                _foreign_bare(sc, ci, rng)
            continue
        n1 = first.e164[2:]
        form = pending.pop(0) if forced else rng.choice(AWKWARD_FORMS)
        rest = contact.phones[1:]
        if form in ("several", "names"):
            n2 = fresh()
            if form == "several":
                raw = f"{_spell_ru(rng, n1)[0]}{rng.choice(_SEPARATORS)}{_spell_ru(rng, n2)[0]}"
            else:
                who = rng.choice(_RELATIVES)
                raw = (
                    f"{contact.first_name}: {_spell_ru(rng, n1)[0]}{rng.choice((', ', '; ', ' '))}"
                    f"{who} {rng.choice(data.MALE_FIRST + data.FEMALE_FIRST)} {_spell_ru(rng, n2)[0]}"
                )
            phones = (first._replace(raw=raw, more=(f"+7{n2}",), form=form), *rest)
            if forced or rng.random() < 0.5:
                move_chats(first.e164, n2)
        elif form == "whatsapp":
            phones = (first._replace(raw=f"7{n1}@c.us", form=form), *rest)
        elif form == "foreign_bare":
            _foreign_bare(sc, ci, rng)
            continue
        else:  # split: the manager pressed Enter in the middle of the number
            a, b, c, d = n1[:3], n1[3:6], n1[6:8], n1[8:]
            head, tail = rng.choice(((f"+7 {a}", f"{b}-{c}-{d}"), (f"8 ({a}) {b}", f"{c}-{d}")))
            phones = (
                first._replace(raw=head, form=form),
                first._replace(raw=tail, form=form),
                *rest,
            )
        sc.contacts[ci] = contact._replace(phones=phones)


def _foreign_bare(sc: Scenario, ci: int, rng: random.Random) -> None:
    """A foreign number typed without `+`: the contact's own (`375291234567 (Минск)`), or a second
    one after a Russian number (`… или 375291234567`)."""
    contact = sc.contacts[ci]
    first = contact.phones[0]
    note = rng.choice(("", " (Минск)", " роуминг", " WhatsApp"))
    if first.e164 and first.e164.startswith("+79"):
        _, digits, e164 = _foreign(rng)
        raw = f"{_spell_ru(rng, first.e164[2:])[0]} или {digits}{note}"
        phone = first._replace(raw=raw, more=(e164,), form="foreign_bare")
    elif first.e164:
        phone = first._replace(raw=f"{first.e164[1:]}{note}", form="foreign_bare")
    else:
        return
    sc.contacts[ci] = contact._replace(phones=(phone, *contact.phones[1:]))


_TRANSLIT = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        (
            "a",
            "b",
            "v",
            "g",
            "d",
            "e",
            "e",
            "zh",
            "z",
            "i",
            "y",
            "k",
            "l",
            "m",
            "n",
            "o",
            "p",
            "r",
            "s",
            "t",
            "u",
            "f",
            "kh",
            "ts",
            "ch",
            "sh",
            "sch",
            "",
            "y",
            "",
            "e",
            "yu",
            "ya",
        ),
        strict=True,
    )
)


def _translit(word: str) -> str:
    return "".join(_TRANSLIT.get(ch, ch) for ch in word.lower())

"""Scenario generator: determinism, realistic phones, ground truth, evolution, info file."""

from __future__ import annotations

import json
import re
from collections import Counter

import httpx
import phonenumbers

from sandbox.dialogs import INJECTION_TEXT
from sandbox.scenario import AWKWARD_FORMS, SIZES, generate_scenario
from sandbox.server import SandboxServer
from synkro.phones import extract_values

NOW = 1_780_000_000.0


def test_same_seed_same_world_other_seed_other_world() -> None:
    a, b = generate_scenario(7, "small", now=NOW), generate_scenario(7, "small", now=NOW)
    assert a.ground_truth() == b.ground_truth()
    assert a.leads == b.leads and a.contacts == b.contacts
    assert [a.messages(c.chat_id) for c in a.chats] == [b.messages(c.chat_id) for c in b.chats]
    assert generate_scenario(8, "small", now=NOW).ground_truth() != a.ground_truth()


def test_sizes() -> None:
    assert len(generate_scenario(1, "small", now=NOW).leads) == SIZES["small"] == 50
    medium = generate_scenario(1, "medium", now=NOW)
    assert len(medium.leads) == 2000
    # A robot bulk edit stamped more than one 250-row page with the same second.
    assert max(Counter(lead.updated_at for lead in medium.leads).values()) > 250


def test_phones_in_every_format_and_their_e164_is_right() -> None:
    scenario = generate_scenario(3, "medium", now=NOW)
    raws = [p for c in scenario.contacts for p in c.phones]
    texts = [p.raw for p in raws]
    assert any(t.startswith("+7 (") for t in texts) and any(t.startswith("8 ") for t in texts)
    assert any(len(t) == 10 and t.isdigit() for t in texts) and any(
        len(t) == 11 and t.startswith("7") for t in texts
    )
    assert any("доб." in t for t in texts) and any("(" in t and t.endswith(")") for t in texts)
    assert any(p.e164 and not p.e164.startswith("+7") for p in raws)  # foreign numbers
    assert any(p.e164 is None for p in raws)  # junk
    assert any(not c.phones for c in scenario.contacts)  # no phone at all
    for phone in raws:
        if phone.form != "plain":
            continue  # awkward forms: test_awkward_phone_forms_and_their_numbers
        if phone.e164 is None or re.search(r"\([^)]*[^\W\d][^)]*\)$", phone.raw):
            continue  # junk, or a note in brackets (phonenumbers needs it stripped first)
        parsed = phonenumbers.parse(phone.raw, "RU")
        assert phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == phone.e164
        assert phonenumbers.is_valid_number(parsed), phone.raw
    for chat in scenario.chats:
        if chat.e164:
            digits = "".join(ch for ch in chat.phone if ch.isdigit())
            assert digits[-10:] == chat.e164[-10:] or chat.e164.endswith(digits)


def test_awkward_phone_forms_and_their_numbers() -> None:
    """Every awkward form is generated, the loaders' extraction finds exactly the numbers the
    generator typed, and some chats come from a number that is not its value's first."""
    scenario = generate_scenario(3, "medium", now=NOW)
    forms = Counter(p.form for c in scenario.contacts for p in c.phones)
    assert set(AWKWARD_FORMS) <= set(forms), forms
    for contact in scenario.contacts:
        values = extract_values([p.raw for p in contact.phones], "RU")
        assert [v.numbers for v in values] == [p.numbers for p in contact.phones], contact
    texts = [p.raw for c in scenario.contacts for p in c.phones]
    assert any("\n" in t for t in texts) and any(" или " in t for t in texts)
    assert any(t.endswith("@c.us") for t in texts)
    later = {n for c in scenario.contacts for p in c.phones for n in p.more}
    assert any(chat.e164 in later for chat in scenario.chats)
    plain = generate_scenario(3, "medium", now=NOW, awkward_phones=False)
    assert plain.leads == scenario.leads and len(plain.chats) == len(scenario.chats)
    assert all(p.form == "plain" for c in plain.contacts for p in c.phones)


def test_ground_truth_has_every_match_kind_and_follows_the_rules() -> None:
    scenario = generate_scenario(5, "medium", now=NOW)
    truth = scenario.ground_truth()
    kinds = Counter(c["match_status"] for c in truth["chats"])
    assert kinds["matched"] > 0 and kinds["ambiguous"] > 0 and kinds["unmatched"] > 0
    links = scenario.contact_leads()
    for chat in truth["chats"]:
        if chat["match_status"] == "unmatched":
            assert chat["contact_id"] is None and chat["lead_id"] is None
            continue
        assert chat["contact_id"] in chat["candidate_contact_ids"]
        own = [scenario.lead(i) for i in links.get(chat["contact_id"], [])]
        if not own:
            assert chat["lead_id"] is None
            continue
        chosen = scenario.lead(chat["lead_id"])
        assert chosen in own
        open_leads = [lead for lead in own if lead.status_id not in (142, 143)]
        if open_leads:
            assert chosen == max(open_leads, key=lambda lead: lead.updated_at)
    qualities = Counter(c["quality"] for c in truth["chats"])
    assert qualities["good"] > 0 and qualities["bad"] > 0
    awaiting = [c for c in truth["chats"] if c["awaiting_reply"]]
    assert awaiting and all("unanswered_customer" in c["risk_flags"] for c in awaiting)


def test_dialogs_fall_in_the_last_days_and_cross_business_day_boundaries() -> None:
    scenario = generate_scenario(9, "small", now=NOW)
    days = set()
    for chat in scenario.chats:
        for message in scenario.messages(chat.chat_id):
            assert NOW - 6 * 86400 < message.ts_ms / 1000 < NOW
            # Europe/Moscow is UTC+3; the business day turns over at 22:01 local.
            local_s = message.ts_ms // 1000 + 3 * 3600 - (22 * 3600 + 60)
            days.add(local_s // 86400)
    assert len(days) >= 3


def test_advance_changes_updated_at_and_appends_messages() -> None:
    scenario = generate_scenario(11, "small", now=NOW)
    before = {lead.id: lead.updated_at for lead in scenario.leads}
    chats_before = {c.chat_id: c.n_messages for c in scenario.chats}
    changed = scenario.advance(now=NOW + 3600)
    assert changed["updated_leads"]
    for lead_id in changed["updated_leads"]:
        lead = scenario.lead(lead_id)
        assert lead is not None and lead.updated_at > before[lead_id]
    for chat_id in changed["updated_chats"]:
        chat = scenario.chat(chat_id)
        assert chat is not None and chat.n_messages > chats_before[chat_id]
        assert len(scenario.messages(chat_id)) == chat.n_messages
    assert scenario.ground_truth()["generation"] == 1


def test_control_endpoints_ground_truth_regenerate_and_info_file(tmp_path) -> None:
    with SandboxServer(seed=2, scenario="small") as server, httpx.Client() as http:
        truth = http.get(f"{server.urls.control}/ground_truth").json()
        assert truth["seed"] == 2 and len(truth["chats"]) == len(server.state.scenario.chats)
        changed = http.post(f"{server.urls.control}/regenerate").json()
        assert changed["generation"] == 1 and changed["updated_leads"]
        info = http.get(f"{server.urls.control}/info").json()
        assert set(info) == {"amocrm", "radist", "gemini", "telegram"}
        assert set(info["amocrm"]) == {
            "base_url",
            "subdomain",
            "client_id",
            "client_secret",
            "auth_code",
            "long_lived_token",
            "oauth_url",  # the consent page "Connect amoCRM" sends the browser to
            "redirect_uri",  # the integration's registered one, which the code exchange needs
        }
        assert set(info["radist"]) == {"base_url", "company_id", "api_key"}
        assert set(info["gemini"]) == {"base_url", "api_key"}
        assert set(info["telegram"]) == {"base_url", "bot_token", "chat_id"}
        assert not info["gemini"]["api_key"].startswith("AIza")
        assert info["telegram"]["base_url"] == f"{server.urls.root}/telegram"
        from sandbox.info import write_info_file

        path = tmp_path / "sandbox.json"
        write_info_file(path, info)
        assert json.loads(path.read_text()) == info


def test_one_matched_chat_carries_an_injected_instruction_in_russian_and_english() -> None:
    scenario = generate_scenario(9, "small", now=NOW)
    injected = [c for c in scenario.ground_truth()["chats"] if c["injection"]]
    assert len(injected) == 1 and injected[0]["match_status"] == "matched"
    assert injected[0]["quality"] == "bad" and "unanswered_customer" in injected[0]["risk_flags"]
    last = scenario.messages(injected[0]["chat_id"])[-1]
    assert last.direction == "inbound" and last.text == INJECTION_TEXT
    assert "Игнорируй предыдущие инструкции" in last.text and "Ignore previous instructions" in last.text

"""SSRF through DNS answers and allow-list syntax: one DNS answer per probe, checked, and used.

The real bot runs under `tests.security.dnsbot`: a scripted DNS for `*.rebind.test` (the
only thing replaced) and a guard that records every connection attempt and refuses any to
a non-loopback address before it is made. Requests are real signed slash commands.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.slack.fakeslack import FakeSlack, send_command
from tests.slack.localservers import Bot, bot_env, free_port, start_bot, stop_bot

PUBLIC = "8.8.8.8"  # never reached: the guard refuses it before a packet is sent
DNS = {
    # The rebinding attack: a public answer for the check, loopback for a second lookup.
    "flip.rebind.test": [[PUBLIC], ["127.0.0.1"]],
    "meta.rebind.test": [["169.254.169.254"]],
    "mixed.rebind.test": [["8.8.4.4", "127.0.0.1"]],
    "flip-meta.rebind.test": [[PUBLIC], ["169.254.169.254"]],
    "meta-exact.rebind.test": [["169.254.169.254"]],  # listed exactly below, by name only
    "site-local.rebind.test": [["fec0::1"]],
}
ALLOWED = "*.rebind.test:*,[::1]:4491,[2001:db8::d]:4492,meta-exact.rebind.test:4498"


@dataclass(frozen=True)
class DnsBot:
    bot: Bot
    connects: Path
    lookups: Path

    def attempts(self, port: int) -> list[str]:
        lines = self.connects.read_text().splitlines() if self.connects.exists() else []
        return [line.split()[0] for line in lines if line.endswith(f" {port}")]

    def lookups_of(self, name: str) -> int:
        return self.lookups.read_text().splitlines().count(name) if self.lookups.exists() else 0


@pytest.fixture(scope="module")
def dns_bot(security_slack: FakeSlack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DnsBot]:
    folder = tmp_path_factory.mktemp("dns-bot")
    env = bot_env(
        security_slack,
        free_port(),
        ALLOWED,
        FIXCHECK_PROBE_TIMEOUT="2",
        FIXCHECK_PROBES_PER_MINUTE="50",
        FIXCHECK_JOBS_PER_MINUTE="50",
        LOG_LEVEL="DEBUG",
        FAKE_DNS=json.dumps(DNS),
        CONNECT_LOG=str(folder / "connects.log"),
        LOOKUP_LOG=str(folder / "lookups.log"),
    )
    bot = start_bot(env, folder / "bot.log", module="tests.security.dnsbot")
    yield DnsBot(bot, folder / "connects.log", folder / "lookups.log")
    stop_bot(bot)


def _command(fake: FakeSlack, bot: Bot, text: str) -> tuple[str, str]:
    """Send `/fixcheck text`; return the acknowledgement's text and the response_url key."""
    key = f"dns{uuid.uuid4().hex[:8]}"
    with httpx.Client(timeout=10) as http:
        response = send_command(
            http, bot.events_url, text, user=f"U{uuid.uuid4().hex[:6].upper()}", response_url=fake.response_url(key)
        )
    assert response.status_code == 200
    is_json = response.headers.get("content-type", "").startswith("application/json")
    return (str(response.json().get("text", "")) if is_json else response.text), key


def _reply(fake: FakeSlack, key: str) -> str:
    call = fake.wait_for(lambda c: c.path == f"/response/{key}", 1, 20)[0]
    return call.all_text()


def test_the_checked_answer_is_the_one_connected_to(dns_bot: DnsBot, security_slack: FakeSlack) -> None:
    """Resolve once, check, connect to exactly that: a second answer (127.0.0.1) is never asked for."""
    for name, port in (("flip.rebind.test", 4490), ("flip-meta.rebind.test", 4495)):
        ack, key = _command(security_slack, dns_bot.bot, f"{name}:{port}")
        assert ack.startswith("Checking")
        _reply(security_slack, key)
        assert dns_bot.lookups_of(name) == 1, "the bot looked the name up more than once"
        assert dns_bot.attempts(port) == [PUBLIC], dns_bot.attempts(port)


def test_non_public_answers_are_refused_before_any_connection(dns_bot: DnsBot, security_slack: FakeSlack) -> None:
    for name, port, shown in (("meta.rebind.test", 4496, "169.254.169.254"), ("mixed.rebind.test", 4497, "127.0.0.1")):
        _ack, key = _command(security_slack, dns_bot.bot, f"{name}:{port}")
        reply = _reply(security_slack, key)
        assert shown in reply and "FIXCHECK_ALLOWED_ENDPOINTS" in reply
        time.sleep(0.2)
        assert dns_bot.attempts(port) == [], f"{name}: the bot tried {dns_bot.attempts(port)}"


def test_ipv6_allow_list_entries_are_addresses_not_patterns(dns_bot: DnsBot, security_slack: FakeSlack) -> None:
    """`[::1]:4491` is allowed as listed; `[2001:db8::d]:4492` does not let the host `d` through."""
    ack, _ = _command(security_slack, dns_bot.bot, "d:4492")
    assert "not an endpoint this bot may probe" in ack and "FIXCHECK_ALLOWED_ENDPOINTS" in ack
    ack, key = _command(security_slack, dns_bot.bot, "[::1]:4491")
    assert ack.startswith("Checking"), ack
    _reply(security_slack, key)
    assert dns_bot.attempts(4491) == ["::1"]
    ack, _ = _command(security_slack, dns_bot.bot, "[2001:db8::d]:4493")
    assert "not an endpoint this bot may probe" in ack
    assert "Traceback" not in dns_bot.bot.logs()


def test_an_exactly_listed_name_answering_a_metadata_address_is_refused(
    dns_bot: DnsBot, security_slack: FakeSlack
) -> None:
    """Listing a NAME exactly trusted whatever it resolved to (169.254.169.254 was probed); fec0::/10 was public."""
    for name, port, shown in (
        ("meta-exact.rebind.test", 4498, "169.254.169.254"),
        ("site-local.rebind.test", 4499, "fec0::1"),
    ):
        _ack, key = _command(security_slack, dns_bot.bot, f"{name}:{port}")
        reply = _reply(security_slack, key)
        assert shown in reply and "FIXCHECK_ALLOWED_ENDPOINTS" in reply, reply[:300]
        time.sleep(0.2)
        assert dns_bot.attempts(port) == [], f"{name}: the bot tried {dns_bot.attempts(port)}"

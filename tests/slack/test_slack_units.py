"""The bot's parts on their own: settings, endpoint rules, parsing, rendering, downloads, jobs."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from bot.engine import Finding, InputSummary, Report, Status, StepResult
from bot.slack import endpoints
from bot.slack.downloads import Downloader, DownloadError, is_relevant
from bot.slack.jobs import RateLimiter, SeenEvents, Workers
from bot.slack.logs import redact
from bot.slack.parsing import pasted_pem, plain_text, strip_pem
from bot.slack.render import MAX_BLOCKS, MAX_SECTION, Message, render_report
from bot.slack.settings import ConfigError, Settings
from bot.slack.work import run_safely

# Fake key markers, built at run time so that no key marker stands in the repository.
BEGIN_KEY = "-----BEGIN " + "PRIVATE KEY-----"
END_KEY = "-----END " + "PRIVATE KEY-----"

REPO = Path(__file__).resolve().parents[2]
BASE_ENV = {"SLACK_BOT_TOKEN": "xoxb-1-2-x", "SLACK_SIGNING_SECRET": "s"}


# --- settings -----------------------------------------------------------------------


def test_settings_defaults_and_values() -> None:
    s = Settings.from_env(BASE_ENV)
    assert s.port == 3000 and s.api_url == "https://slack.com/api/" and not s.socket_mode
    assert s.max_file_bytes == 256 * 1024 and "*.itbit.com:*" in s.allowed_endpoints
    s = Settings.from_env(
        {
            **BASE_ENV,
            "SLACK_APP_TOKEN": "xapp-1",
            "SLACK_API_URL": "http://127.0.0.1:9/api",
            "FIXCHECK_ALLOWED_ENDPOINTS": " A.example.com:4490 , *.x.io:* ",
        }
    )
    assert s.socket_mode and s.api_url == "http://127.0.0.1:9/api/" and s.api_host == "127.0.0.1:9"
    assert s.allowed_endpoints == ("a.example.com:4490", "*.x.io:*")
    assert "xoxb" not in repr(s)


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({}, "SLACK_BOT_TOKEN is not set"),
        ({"SLACK_BOT_TOKEN": "xoxp-user"}, "SLACK_BOT_TOKEN must be a bot token"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET is required"),
        ({**BASE_ENV, "PORT": "http"}, "PORT must be a whole number"),
        ({**BASE_ENV, "PORT": "70000"}, "PORT must be between"),
        ({**BASE_ENV, "SLACK_API_URL": "ftp://x"}, "SLACK_API_URL must be an http(s) URL"),
        ({**BASE_ENV, "FIXCHECK_ALLOWED_ENDPOINTS": "fix.itbit.com"}, "is not a host:port pattern"),
        ({**BASE_ENV, "FIXCHECK_MAX_FILE_BYTES": "0"}, "FIXCHECK_MAX_FILE_BYTES must be between"),
        ({**BASE_ENV, "SLACK_APP_TOKEN": "xoxb-no"}, "SLACK_APP_TOKEN must be an app-level token"),
    ],
)
def test_settings_errors_name_the_variable(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        Settings.from_env(env)


def test_malformed_configuration_exits_2_with_one_line() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "FIXCHECK_"))}
    env.update(SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s", PORT="not-a-port", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "bot"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "PORT" in proc.stderr and "Traceback" not in proc.stderr


# --- endpoints ------------------------------------------------------------------------


def test_find_endpoint_in_text() -> None:
    assert str(endpoints.find_endpoint("try sandbox-fix.itbit.com:4490 please")) == "sandbox-fix.itbit.com:4490"
    assert str(endpoints.find_endpoint("[::1]:4490")) == "[::1]:4490"
    assert endpoints.find_endpoint("meet at 10:30, version 1.2") is None
    assert endpoints.find_endpoint("port 99999 on fix.itbit.com:99999") is None
    assert endpoints.parse_target("tcp://fix.itbit.com:443") == endpoints.Target("fix.itbit.com", 443)
    assert endpoints.parse_target("fix.itbit.com:443 and more") is None


def test_allow_list_and_private_addresses() -> None:
    patterns = ("*.itbit.com:*", "127.0.0.1:4490", "localhost:*")
    endpoints.allowed(endpoints.Target("sandbox-fix.itbit.com", 4490), patterns)
    with pytest.raises(endpoints.Refused, match="FIXCHECK_ALLOWED_ENDPOINTS"):
        endpoints.allowed(endpoints.Target("evil.example.com", 4490), patterns)
    with pytest.raises(endpoints.Refused, match="FIXCHECK_ALLOWED_ENDPOINTS"):
        endpoints.allowed(endpoints.Target("itbit.com.evil.io", 1), patterns)
    endpoints.resolve_check(endpoints.Target("127.0.0.1", 4490), patterns)  # listed exactly
    with pytest.raises(endpoints.Refused, match="loopback"):
        endpoints.resolve_check(endpoints.Target("localhost", 4491), patterns)  # 127.0.0.1 listed for 4490 only
    for address in (
        "10.0.0.1",
        "169.254.169.254",
        "192.168.1.1",
        "224.0.0.1",
        "100.64.0.1",
        "::ffff:127.0.0.1",
        "fe80::1",
    ):
        with pytest.raises(endpoints.Refused):
            endpoints.resolve_check(endpoints.Target(address, 1), ("*:*",))


# --- parsing --------------------------------------------------------------------------


def test_plain_text_undoes_slack_markup() -> None:
    assert (
        plain_text("<@U1> check <http://fix.itbit.com:4490|fix.itbit.com:4490> &amp; &lt;x&gt;")
        == "  check fix.itbit.com:4490 & <x>"
    )


def test_pasted_pem_groups_blocks_pasted_together() -> None:
    cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"
    key = BEGIN_KEY + "\nMIIE\n" + END_KEY
    got = pasted_pem(f"bundle:\n```{cert}\n{key}```\nand the CA:\n{cert}")
    assert [name for name, _ in got] == ["pasted-1.pem", "pasted-2.pem"]
    assert got[0][1].count(b"-----BEGIN") == 2
    assert "MIIE" not in strip_pem(f"x {key} y")


# --- rendering ------------------------------------------------------------------------


def _huge_report() -> Report:
    long = "x" * 5000 + " <@U123> <!channel> & ```"
    findings = tuple(
        Finding(
            f"c.{i}",
            Status.FAIL,
            long,
            remediation=long,
            commands=("openssl verify " + "a" * 3000,),
            evidence={"k": ["v" * 400] * 30},
        )
        for i in range(30)
    )
    steps = tuple(StepResult(n, f"Step {n} <title>", findings, long) for n in range(1, 9))
    inputs = tuple(InputSummary(f"f{i}.pem", ("private-key",), "client-key") for i in range(40))
    return Report(inputs, steps)


def test_render_stays_within_slack_limits_and_escapes() -> None:
    message = render_report(_huge_report(), notices=["n" * 4000] * 10)
    assert len(message.blocks) <= MAX_BLOCKS
    for block in message.blocks:
        text = block.get("text", {}).get("text", "")
        assert len(text) <= MAX_SECTION
        assert "<@U123>" not in text and "<!channel>" not in text
        if block["type"] == "header":
            assert len(text) <= 150
    assert message.blocks[0]["block_id"] == "key_warning"
    assert len(message.text) <= 3000


def test_render_the_same_report_the_engine_gives(slack_pki_files: dict[str, bytes]) -> None:
    from bot.engine import diagnose

    report = diagnose(list(slack_pki_files.items()))
    message = render_report(report)
    ids = [b.get("block_id") for b in message.blocks]
    assert [i for i in ids if str(i).startswith("step_")] == [f"step_{n}" for n in range(1, 9)]
    assert message.blocks[0]["block_id"] == "key_warning"
    assert "No endpoint given" in str(message.blocks)  # Slack wording, not the CLI's --connect


@pytest.fixture(scope="module")
def slack_pki_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    from bot.lab.onboarding import make_client

    c = make_client(tmp_path_factory.mktemp("unit-pki"))
    return {"fix.itbit.pem": c.bundle.read_bytes(), "ca.crt": c.ca_crt.read_bytes()}


# --- downloads ------------------------------------------------------------------------


def test_download_urls_are_limited_to_slack() -> None:
    d = Downloader(Settings.from_env({**BASE_ENV, "SLACK_API_URL": "http://127.0.0.1:9/api/"}))
    d.check_url("https://files.slack.com/files-pri/T1-F1/download/ca.crt")
    d.check_url("http://127.0.0.1:9/files/F1/download/ca.crt")
    for bad in (
        "http://files.slack.com/x",
        "https://evil.example/x",
        "http://127.0.0.1:10/x",
        "https://u:p@files.slack.com/x",
        "https://files.slack.com.evil.io/x",
    ):
        with pytest.raises(DownloadError):
            d.check_url(bad)
    d.close()


def test_redirects_are_not_followed() -> None:
    hits: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hits.append(str(request.url))
        return httpx.Response(302, headers={"Location": "https://slack.com/signin"})

    d = Downloader(Settings.from_env(BASE_ENV))
    d._client = httpx.Client(transport=httpx.MockTransport(handler), follow_redirects=False)
    with pytest.raises(DownloadError, match="files:read"):
        d.fetch(
            {
                "id": "F1",
                "name": "ca.crt",
                "url_private_download": "https://files.slack.com/files-pri/T-F1/download/ca.crt",
            }
        )
    assert hits == ["https://files.slack.com/files-pri/T-F1/download/ca.crt"]


def test_relevant_files() -> None:
    assert is_relevant({"name": "fix.itbit.pem"}) and is_relevant({"name": "x", "mimetype": "text/plain"})
    assert not is_relevant({"name": "screen.png", "mimetype": "image/png", "filetype": "png"})


# --- jobs -----------------------------------------------------------------------------


def test_rate_limiter_dedup_and_bounded_pool() -> None:
    now = [0.0]
    limiter = RateLimiter(2, 60, clock=lambda: now[0])
    assert limiter.allow("u") and limiter.allow("u") and not limiter.allow("u") and limiter.allow("v")
    now[0] = 61
    assert limiter.allow("u")
    seen = SeenEvents()
    assert seen.first_time("Ev1") and not seen.first_time("Ev1")
    gate = threading.Event()
    pool = Workers(1, queue_limit=2)
    assert pool.submit(gate.wait) and pool.submit(gate.wait) and not pool.submit(gate.wait)
    gate.set()
    pool.shutdown(wait=True)


def test_a_failing_job_replies_with_an_error_id(caplog: pytest.LogCaptureFixture) -> None:
    replies: list[Message] = []

    def boom() -> None:
        raise RuntimeError(BEGIN_KEY + "\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ\n" + END_KEY)

    run_safely(replies.append, boom)
    assert len(replies) == 1 and "error id" in replies[0].text
    assert "MIIEvQ" not in replies[0].text


def test_log_redaction() -> None:
    text = redact(
        "token xoxb-123-456-abc and Bearer abc.def and " + BEGIN_KEY + "\nMIIE\n" + END_KEY + " " + "Q" * 64
    )
    assert "xoxb-123" not in text and "abc.def" not in text and "MIIE" not in text and "Q" * 64 not in text

"""Table test: malformed or mistaken stunnel configurations and the findings each must give."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from bot.engine import Status, diagnose
from bot.engine.steps.stunnel.config import parse, referenced_paths
from tests.stunnel.conftest import StunnelPki, read

GOOD = """\
foreground = yes
pid =
debug = info
[itbit]
client = yes
accept = 127.0.0.1:1234
connect = sandbox-fix.itbit.com:4490
cert = /home/u/fix/fix.itbit.pem
CAfile = /home/u/fix/itbit-ca.pem
verifyChain = yes
checkHost = sandbox-fix.itbit.com
"""
GUIDE = """\
client = yes
foreground = yes
pid = /home/src/itbit.stunnel.pid
socket =l:TCP_NODELAY=1
socket =r:TCP_NODELAY=1
[itbit-sandbox]
client = yes
accept = 127.0.0.1:1234
cert = /{PATH-TO-CERT}/fix.itbit.pem
connect = sandbox-fix.itbit.com:1234
CAfile = /{PATH-TO-CERT}/itbit-ca.pem
verifyChain = no
"""
ENDPOINT = "sandbox-fix.itbit.com:4490"


def step7(
    conf: str,
    files: Sequence[tuple[str, bytes]] = (),
    endpoint: str | None = None,
    unreadable: Mapping[str, str] | None = None,
) -> dict[str, Status]:
    report = diagnose(files, endpoint=endpoint, stunnel=("stunnel.conf", conf.encode()), stunnel_unreadable=unreadable)
    return {f.code: f.status for f in report.step(7).findings}


def edit(old: str, new: str, base: str = GOOD) -> str:
    assert old in base
    return base.replace(old, new)


# (id, configuration, expected {code: status}, codes that must NOT appear)
CASES: list[tuple[str, str, dict[str, Status], set[str]]] = [
    ("good", GOOD, {"stunnel.ok": Status.PASS, "stunnel.log_location": Status.PASS}, {"stunnel.verify_off"}),
    ("no client", edit("client = yes\n", ""), {"stunnel.not_client": Status.FAIL}, {"stunnel.ok"}),
    ("client = no", edit("client = yes", "client = no"), {"stunnel.not_client": Status.FAIL}, set()),
    (
        "client only in global is fine",
        "client = yes\n" + edit("client = yes\n", ""),
        {"stunnel.ok": Status.PASS},
        {"stunnel.not_client"},
    ),
    (
        "guide placeholders",
        GUIDE,
        {"stunnel.placeholder": Status.FAIL, "stunnel.verify_off": Status.WARN},
        {"stunnel.ok"},
    ),
    (
        "angle placeholder",
        edit("/home/u/fix/fix.itbit.pem", "<path to your cert>"),
        {"stunnel.placeholder": Status.FAIL},
        set(),
    ),
    (
        "/path/to/",
        edit("/home/u/fix/itbit-ca.pem", "/path/to/itbit-ca.pem"),
        {"stunnel.placeholder": Status.FAIL},
        set(),
    ),
    (
        "connect without port",
        edit("sandbox-fix.itbit.com:4490", "sandbox-fix.itbit.com"),
        {"stunnel.connect_no_port": Status.FAIL},
        set(),
    ),
    ("misspelled option", edit("verifyChain", "verfyChain"), {"stunnel.unknown_option": Status.FAIL}, {"stunnel.ok"}),
    ("global option in service", GOOD + "output = /tmp/stunnel.log\n", {"stunnel.wrong_section": Status.FAIL}, set()),
    ("bad yes/no", edit("client = yes", "client = true"), {"stunnel.bad_value": Status.FAIL}, set()),
    (
        "malformed socket side",
        edit("debug = info", "debug = info\nsocket = x:TCP_NODELAY=1"),
        {"stunnel.bad_socket": Status.FAIL},
        set(),
    ),
    (
        "socket without =",
        edit("debug = info", "debug = info\nsocket = l:TCP_NODELAY"),
        {"stunnel.bad_socket": Status.FAIL},
        set(),
    ),
    (
        "socket misspelled",
        edit("debug = info", "debug = info\nsocket = r:TCP_NODLAY=1"),
        {"stunnel.bad_socket": Status.FAIL},
        set(),
    ),
    ("line without =", edit("client = yes", "client yes"), {"stunnel.syntax": Status.FAIL}, set()),
    (
        "trailing comment",
        edit("client = yes", "client = yes ; tunnel mode"),
        {"stunnel.inline_comment": Status.FAIL},
        set(),
    ),
    ("no section", "client = yes\nconnect = sandbox-fix.itbit.com:4490\n", {"stunnel.no_service": Status.FAIL}, set()),
    ("accept on all interfaces", edit("127.0.0.1:1234", "1234"), {"stunnel.accept_public": Status.WARN}, set()),
    ("accept on 0.0.0.0", edit("127.0.0.1:1234", "0.0.0.0:1234"), {"stunnel.accept_public": Status.WARN}, set()),
    (
        "verifyChain = no",
        edit("verifyChain = yes\ncheckHost = sandbox-fix.itbit.com\n", "verifyChain = no\n"),
        {"stunnel.verify_off": Status.WARN},
        {"stunnel.ok"},
    ),
    (
        "no verify options",
        edit("verifyChain = yes\ncheckHost = sandbox-fix.itbit.com\n", ""),
        {"stunnel.verify_off": Status.WARN},
        set(),
    ),
    (
        "checkHost without verify",
        edit("verifyChain = yes\n", ""),
        {"stunnel.checkhost_without_verify": Status.FAIL},
        set(),
    ),
    (
        "verifyChain without checkHost",
        edit("checkHost = sandbox-fix.itbit.com\n", ""),
        {"stunnel.no_checkhost": Status.WARN},
        set(),
    ),
    (
        "verifyChain without CAfile",
        edit("CAfile = /home/u/fix/itbit-ca.pem\n", ""),
        {"stunnel.verify_without_cafile": Status.FAIL},
        set(),
    ),
    (
        "checkHost differs",
        edit("checkHost = sandbox-fix.itbit.com", "checkHost = fix.itbit.com"),
        {"stunnel.checkhost_differs": Status.WARN},
        set(),
    ),
    ("no cert", edit("cert = /home/u/fix/fix.itbit.pem\n", ""), {"stunnel.no_cert": Status.FAIL}, set()),
    ("no connect", edit("connect = sandbox-fix.itbit.com:4490\n", ""), {"stunnel.no_connect": Status.FAIL}, set()),
    (
        "relative path",
        edit("/home/u/fix/fix.itbit.pem", "fix.itbit.pem"),
        {"stunnel.relative_path": Status.WARN},
        set(),
    ),
    (
        "duplicate cert",
        edit("cert = /home/u/fix/fix.itbit.pem", "cert = /a/old.pem\ncert = /home/u/fix/fix.itbit.pem"),
        {"stunnel.duplicate_option": Status.WARN},
        set(),
    ),
    ("include dir", GOOD + "include = /etc/stunnel/conf.d\n", {"stunnel.include": Status.SKIP}, set()),
    ("obsolete verify", edit("verifyChain = yes", "verify = 2"), {"stunnel.verify_obsolete": Status.WARN}, set()),
    ("bad debug", edit("debug = info", "debug = loud"), {"stunnel.bad_value": Status.FAIL}, set()),
]


@pytest.mark.parametrize(("conf", "expected", "absent"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_config_table(conf: str, expected: dict[str, Status], absent: set[str]) -> None:
    found = step7(conf)
    for code, status in expected.items():
        assert found.get(code) is status, (code, found)
    assert not (absent & set(found)), found


def test_at_least_fifteen_mistakes() -> None:
    assert sum(1 for c in CASES if c[0] != "good" and "fine" not in c[0]) >= 15


def test_connect_against_endpoint() -> None:
    assert step7(GOOD, endpoint=ENDPOINT).get("stunnel.ok") is Status.PASS
    assert step7(GUIDE, endpoint=ENDPOINT)["stunnel.connect_mismatch"] is Status.FAIL
    other = edit("sandbox-fix.itbit.com:4490", "fix.itbit.com:4490")
    assert step7(other, endpoint=ENDPOINT)["stunnel.connect_mismatch"] is Status.FAIL
    by_ip = edit("connect = sandbox-fix.itbit.com:4490", "connect = 18.210.66.68:4490")
    assert step7(by_ip, endpoint=ENDPOINT)["stunnel.connect_mismatch"] is Status.WARN


def test_referenced_files_are_checked(stunnel_pki: StunnelPki) -> None:
    c, s = stunnel_pki.client, stunnel_pki.server
    files = [read(c.bundle), read(c.ca_crt), read(s.ca_pem)]
    # Given under the paths as written (what the CLI does): content is judged.
    conf = GOOD.replace("/home/u/fix/fix.itbit.pem", str(c.bundle)).replace("/home/u/fix/itbit-ca.pem", str(s.ca_pem))
    ok = step7(conf, [(str(c.bundle), c.bundle.read_bytes()), (str(s.ca_pem), s.ca_pem.read_bytes())], unreadable={})
    assert ok.get("stunnel.ok") is Status.PASS, ok
    # CAfile = the client's own CA.
    wrong_ca = conf.replace(str(s.ca_pem), str(c.ca_crt))
    assert step7(wrong_ca, files)["stunnel.cafile_is_client_ca"] is Status.FAIL
    # cert = a certificate without its key, and no key = line.
    no_key = conf.replace(str(c.bundle), str(c.host_crt))
    assert step7(no_key, [read(c.host_crt), read(s.ca_pem)])["stunnel.cert_without_key"] is Status.FAIL
    # cert = the exchange's CA.
    cert_ca = conf.replace(str(c.bundle), str(s.ca_pem))
    assert step7(cert_ca, files)["stunnel.cert_is_ca"] is Status.FAIL
    # key = a key that is not the certificate's.
    mismatch = conf.replace(f"cert = {c.bundle}", f"cert = {c.host_crt}\nkey = {stunnel_pki.other.host_key}")
    other_files = [read(c.host_crt), ("other-" + "host.key", b""), read(s.ca_pem)]
    other_files[1] = (str(stunnel_pki.other.host_key), stunnel_pki.other.host_key.read_bytes())
    assert step7(mismatch, other_files)["stunnel.key_mismatch"] is Status.FAIL
    # A path the CLI could not read.
    missing = step7(conf, [read(s.ca_pem)], unreadable={str(c.bundle): "no such file"})
    assert missing["stunnel.file_missing"] is Status.FAIL
    # The bot cannot look at paths: it says so instead of guessing.
    bot = step7(conf.replace(str(c.bundle), "/srv/elsewhere/client.pem"), [read(s.ca_pem)])
    assert bot["stunnel.file_unchecked"] is Status.SKIP


def test_parser_semantics() -> None:
    config = parse("; c\n# c\nclient = yes\n  [ fix ]  \nCONNECT=  host:1  \nconnect = host:2\ncafile = /x\n")
    [svc] = config.services
    assert svc.name == "fix"
    assert [o.value for o in config.effective_all(svc, "connect")] == ["host:1", "host:2"]
    assert config.effective(svc, "client") is not None  # global service options are defaults
    assert config.effective(svc, "CAfile") is not None  # names are case-insensitive
    assert config.problems == []
    assert referenced_paths(GUIDE) == []  # placeholders are not paths to read
    assert referenced_paths(GOOD) == ["/home/u/fix/fix.itbit.pem", "/home/u/fix/itbit-ca.pem"]


def test_config_recognised_among_files() -> None:
    report = diagnose([("itbit.conf", GOOD.encode())])
    assert report.step(7).findings[0].code == "stunnel.ok"


def test_long_configuration_is_bounded_and_says_so() -> None:
    """100,000 lines: read up to the limit, quickly, with one finding saying so."""
    import time

    from bot.engine import diagnose

    started = time.monotonic()
    report = diagnose([], stunnel=("stunnel.conf", b"client = yes\n" + b"a = b\n" * 100_000))
    assert time.monotonic() - started < 10
    codes = [f.code for f in report.step(7).findings]
    assert "stunnel.too_long" in codes
    assert len(str(report.to_dict())) < 100_000

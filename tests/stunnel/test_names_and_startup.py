"""Issue 11: stunnel advice a user can act on, against real `stunnel` and `openssl s_server` on 127.0.0.1.

- `stunnel-config` checks the name the server certificate holds (not blindly the connect IP),
  and `--through-stunnel` then passes; step 4 reports what the tunnel showed without --connect;
- one root cause, stated once: a failed name check is not also "CAfile does not hold the
  exchange's CA", and a CAfile step 4 verified is never to be replaced;
- stunnel's start-up failures: the pid file's folder, the template's connect port, and a
  log headlined by its fatal line rather than a non-fatal "delaying DNS lookup".
"""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from bot import cli
from bot.cli import through_stunnel
from bot.engine import diagnose
from tests.network.servers import openssl_s_server, scripted_server
from tests.stunnel.conftest import StunnelPki
from tests.stunnel.helpers import free_port, run_stunnel, stunnel_exe


@pytest.fixture(scope="module")
def cn_only(stunnel_pki: StunnelPki, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A server certificate naming only CN=localhost (no subjectAltName), from the exchange's CA."""
    folder = tmp_path_factory.mktemp("cn-only")
    s = stunnel_pki.server

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True, timeout=60)

    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "lh.key", "-out", "lh.csr", "-subj", "/CN=localhost")
    openssl("x509", "-req", "-in", "lh.csr", "-CA", str(s.ca_pem), "-CAkey", str(s.ca_key), "-set_serial", "7",
            "-days", "30", "-out", "lh.crt")
    return folder / "lh.crt", folder / "lh.key"


@pytest.fixture
def server(stunnel_pki: StunnelPki, cn_only: tuple[Path, Path]) -> Iterator[int]:
    """`openssl s_server -Verify 1 -verify_return_error` with the CN-only certificate, trusting the client's CA."""
    stunnel_exe()
    crt, key = cn_only
    with openssl_s_server(crt, key, stunnel_pki.client.ca_crt, "1.3") as (_host, port):
        yield port


def onboarding(stunnel_pki: StunnelPki, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for src in (stunnel_pki.client.bundle, stunnel_pki.client.ca_crt, stunnel_pki.server.ca_pem):
        (folder / src.name).write_bytes(src.read_bytes())
    return folder


def fixcheck(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def diagnose_json(*argv: str) -> dict[str, Any]:
    _code, out, _err = fixcheck("diagnose", "--format", "json", *argv)
    report: dict[str, Any] = json.loads(out)
    return report


def codes(report: dict[str, Any], step: int) -> dict[str, str]:
    return {f["code"]: f["status"] for f in report["steps"][step - 1]["findings"]}


def finding(report: dict[str, Any], step: int, code: str) -> dict[str, Any]:
    found: dict[str, Any] = next(f for f in report["steps"][step - 1]["findings"] if f["code"] == code)
    return found


# ------------------------------------------------------------------ item 1 and 8b


def test_generated_config_checks_the_name_the_certificate_holds(
    stunnel_pki: StunnelPki, server: int, tmp_path: Path
) -> None:
    """`stunnel-config --connect 127.0.0.1:PORT` against a CN=localhost certificate: checkHost = localhost.

    It used to write checkIP = 127.0.0.1, which stunnel refuses ('CERT: Subject checks failed').
    """
    folder = onboarding(stunnel_pki, tmp_path / "files")
    conf = tmp_path / "stunnel.conf"
    code, _out, err = fixcheck(
        "stunnel-config", str(folder), "--connect", f"127.0.0.1:{server}", "--accept-port", str(free_port()),
        "-o", str(conf), "--timeout", "5",
    )
    assert code == 0, err
    text = conf.read_text()
    assert "checkHost = localhost" in text and "checkIP" not in text.replace("; ", "")
    assert "names localhost, not 127.0.0.1" in text and "names localhost, not 127.0.0.1" in err
    # The generated file now passes through the real stunnel, and step 4 reports the tunnel's handshake.
    report = diagnose_json("--stunnel", str(conf), "--through-stunnel", "--timeout", "5", str(folder))
    s7 = codes(report, 7)
    assert s7["stunnel.run_tls_ok"] == "pass", report["steps"][6]
    assert "fail" not in s7.values()
    assert codes(report, 4) == {"tls.through_stunnel_ok": "pass"}  # not "No endpoint was given"
    assert "completed the mTLS handshake with 127.0.0.1:" in finding(report, 4, "tls.through_stunnel_ok")["message"]


def test_offline_generation_says_the_name_must_be_confirmed(stunnel_pki: StunnelPki, tmp_path: Path) -> None:
    folder = onboarding(stunnel_pki, tmp_path / "files")
    code, out, err = fixcheck("stunnel-config", str(folder), "--connect", "127.0.0.1:4490", "--offline")
    assert code == 0
    assert "checkIP = 127.0.0.1" in out
    assert "confirm that the server's certificate names 127.0.0.1" in out
    assert "confirm that the server's certificate names 127.0.0.1" in err


# ------------------------------------------------------------------ item 2


def _checkip_config(stunnel_pki: StunnelPki, folder: Path, port: int, cafile: Path | None = None) -> Path:
    conf = folder / "checkip.conf"
    conf.write_text(
        "[itbit]\nclient = yes\n"
        f"accept = 127.0.0.1:{free_port()}\nconnect = 127.0.0.1:{port}\n"
        f"cert = {folder / 'fix.itbit.pem'}\nCAfile = {cafile or folder / 'itbit-ca.pem'}\n"
        "verifyChain = yes\ncheckIP = 127.0.0.1\n"
    )
    return conf


def test_a_failed_name_check_is_one_root_cause(stunnel_pki: StunnelPki, server: int, tmp_path: Path) -> None:
    """checkIP the certificate does not hold: the name is the cause, stated once; itbit-ca.pem is not blamed."""
    folder = onboarding(stunnel_pki, tmp_path / "files")
    conf = _checkip_config(stunnel_pki, folder, server)
    report = diagnose_json(
        "--stunnel", str(conf), "--connect", f"127.0.0.1:{server}", "--through-stunnel", "--timeout", "5", str(folder)
    )
    s7 = codes(report, 7)
    assert s7["stunnel.check_name_not_in_cert"] == "fail"
    assert "stunnel.log_server_cert_untrusted" not in s7 and "stunnel.log_checkhost_failed" not in s7
    assert "checkHost = localhost" in (finding(report, 7, "stunnel.check_name_not_in_cert")["remediation"] or "")
    assert "CAfile does not hold" not in json.dumps(report)
    # Without --connect the log alone says it, once.
    alone = diagnose_json("--stunnel", str(conf), "--through-stunnel", "--timeout", "5", str(folder))
    s7 = codes(alone, 7)
    assert s7["stunnel.log_checkhost_failed"] == "fail" and "stunnel.log_server_cert_untrusted" not in s7
    rejected = finding(alone, 7, "stunnel.log_checkhost_failed")
    assert "(CN=localhost)" in rejected["message"] and "checkHost = localhost" in rejected["remediation"]
    assert codes(alone, 4) == {"tls.through_stunnel_failed": "skip"}  # step 7 states the cause and leads
    assert alone["first_failure"] == {"step": 7, "code": "stunnel.log_checkhost_failed"}
    assert "stunnel.log_checkhost_failed" in finding(alone, 4, "tls.through_stunnel_failed")["message"]
    # The tunnel's connect is known: the advice names it, not HOST:PORT.
    assert f"Add --connect 127.0.0.1:{server} " in finding(alone, 4, "tls.through_stunnel_failed")["message"]


def test_a_cafile_step_4_verified_is_never_to_be_replaced(
    stunnel_pki: StunnelPki, server: int, tmp_path: Path
) -> None:
    """A stunnel log saying 'certificate verify failed' for itbit-ca.pem, while step 4 verifies with that file."""
    # The log: real stunnel, when its itbit-ca.pem held another CA (the client's own, a common mix-up).
    wrong = tmp_path / "then"
    wrong.mkdir()
    (wrong / "itbit-ca.pem").write_bytes(stunnel_pki.client.ca_crt.read_bytes())
    (wrong / "fix.itbit.pem").write_bytes(stunnel_pki.client.bundle.read_bytes())
    port = free_port()
    config = (
        "foreground = yes\npid =\ndebug = info\n[itbit]\nclient = yes\n"
        f"accept = 127.0.0.1:{port}\nconnect = 127.0.0.1:{server}\n"
        f"cert = {wrong / 'fix.itbit.pem'}\nCAfile = {wrong / 'itbit-ca.pem'}\nverifyChain = yes\n"
    )
    run = run_stunnel(config, tmp_path / "run", port)
    assert "certificate verify failed" in run.log
    log = tmp_path / "stunnel.log"
    log.write_text(run.log)
    # Today's files: itbit-ca.pem is the exchange's CA, and step 4 verifies the server with it.
    folder = onboarding(stunnel_pki, tmp_path / "files")
    endpoint = ("--connect", f"127.0.0.1:{server}", "--timeout", "5")
    # With the configuration, whose CAfile is that itbit-ca.pem.
    written = _checkip_config(stunnel_pki, folder, server)
    (folder / "itbit.conf").write_text(written.read_text().replace("checkIP = 127.0.0.1", "checkHost = localhost"))
    written.unlink()
    report = diagnose_json("--stunnel", str(log), *endpoint, str(folder))
    assert finding(report, 4, "tls.ok")["evidence"]["server_certificate_verified"] is True
    f = finding(report, 7, "stunnel.log_server_cert_untrusted")
    assert "CAfile does not hold" not in f["message"] and "CAfile is right" in f["message"]
    assert "Keep CAfile" in f["remediation"]
    # The log alone: the file step 4 verified is right; stunnel read another one.
    (folder / "itbit.conf").unlink()
    f = finding(diagnose_json("--stunnel", str(log), *endpoint, str(folder)), 7, "stunnel.log_server_cert_untrusted")
    assert "CAfile does not hold" not in f["message"] and "that file is right" in f["message"]
    # Without step 4's evidence the log alone still points at CAfile (its reason: no local issuer).
    alone = diagnose_json("--stunnel", str(log), str(folder))
    assert "CAfile does not hold" in finding(alone, 7, "stunnel.log_server_cert_untrusted")["message"]


# ------------------------------------------------------------------ item 7


GUIDE_TEMPLATE = (
    "client = yes\nforeground = yes\npid = {pid}\nsocket =l:TCP_NODELAY=1\nsocket =r:TCP_NODELAY=1\n"
    "[itbit-sandbox]\nclient = yes\naccept = 127.0.0.1:{accept}\ncert = {cert}\n"
    "connect = {connect}\nCAfile = {cafile}\nverifyChain = no\n"
)


def test_pid_file_folder_missing(stunnel_pki: StunnelPki, tmp_path: Path) -> None:
    """The template's pid file in a folder that does not exist: real stunnel exits; fixcheck says so everywhere."""
    pid = tmp_path / "home" / "src" / "itbit.stunnel.pid"
    port = free_port()
    text = GUIDE_TEMPLATE.format(
        pid=pid, accept=port, cert=stunnel_pki.client.bundle, cafile=stunnel_pki.server.ca_pem,
        connect=f"127.0.0.1:{free_port()}",
    ).replace("foreground = yes\n", "foreground = yes\ndebug = info\n")
    run = run_stunnel(text, tmp_path / "run", port)
    assert "Cannot create pid file" in run.log
    log = tmp_path / "stunnel.log"
    log.write_text(run.log)
    from_log = diagnose_json("--stunnel", str(log))
    assert from_log["first_failure"] == {"step": 7, "code": "stunnel.log_pid_file"}
    assert f"mkdir -p {pid.parent}" in finding(from_log, 7, "stunnel.log_pid_file")["remediation"]
    # The configuration, on the user's machine (the CLI looks at the folder): a failure.
    conf = tmp_path / "itbit.conf"
    conf.write_text(text)
    report = diagnose_json("--stunnel", str(conf))
    f = finding(report, 7, "stunnel.pid_folder")
    assert f["status"] == "fail" and f"{pid.parent} does not exist" in f["message"]
    assert "stunnel.ok" not in codes(report, 7)
    # In Slack nothing can look: it says the folder must exist.
    slack = diagnose([], stunnel=("itbit.conf", text.encode()))
    warn = next(x for x in slack.step(7).findings if x.code == "stunnel.pid_folder")
    assert warn.status.value == "warn" and "must exist" in warn.message
    # A folder that exists: nothing to say.
    pid.parent.mkdir(parents=True)
    assert "stunnel.pid_folder" not in codes(diagnose_json("--stunnel", str(conf)), 7)


def test_template_connect_port_is_questioned_without_connect() -> None:
    text = GUIDE_TEMPLATE.format(
        pid="", accept=1234, cert="/etc/fix/fix.itbit.pem", cafile="/etc/fix/itbit-ca.pem",
        connect="sandbox-fix.itbit.com:1234",
    )
    report = diagnose([], stunnel=("itbit.conf", text.encode()))
    f = next(x for x in report.step(7).findings if x.code == "stunnel.connect_unconfirmed")
    assert f.status.value == "warn" and "guide template's example" in f.message
    # The check command has a placeholder to fill, never the template's example host as if it were theirs.
    assert f.commands == ("fixcheck diagnose --stunnel itbit.conf --connect HOST:PORT",)
    # With --connect, stunnel.connect_mismatch compares instead (no second finding). The test of the
    # template's own host needs no lookup: the endpoint is never resolved by step 7.
    other = text.replace("sandbox-fix.itbit.com:1234", "127.0.0.1:4490")
    assert "stunnel.connect_unconfirmed" not in {x.code for x in diagnose([], stunnel=("c", other.encode())).step(7).findings}


# Lines of a real stunnel 5.68 run (debug = info) whose connect host did not resolve and whose pid
# folder was missing, recorded from `stunnel` on this machine: a name that cannot resolve needs a
# DNS query, which the tests do not make.
DELAYED_DNS_LOG = """\
2026.12.02 03:57:40 LOG5[ui]: stunnel 5.68 on x86_64-pc-linux-gnu platform
2026.12.02 03:57:40 LOG5[ui]: Reading configuration from file /tmp/i11a/tpl.conf
2026.12.02 03:57:40 LOG6[ui]: Initializing service [itbit-sandbox]
2026.12.02 03:57:40 LOG3[ui]: Error resolving "nosuchhost.invalid": Neither nodename nor servname known (EAI_NONAME)
2026.12.02 03:57:40 LOG6[ui]: Cannot resolve connect target - delaying DNS lookup
2026.12.02 03:57:40 LOG6[ui]: Loading certificate from file: /tmp/i11a/c/fix.itbit.pem
2026.12.02 03:57:40 LOG4[ui]: Service [itbit-sandbox] needs authentication to prevent MITM attacks
2026.12.02 03:57:40 LOG5[ui]: Configuration successful
2026.12.02 03:57:40 LOG6[ui]: Service [itbit-sandbox] (FD=8) bound to 127.0.0.1:45873
2026.12.02 03:57:40 LOG3[ui]: Cannot create pid file /home/src/itbit.stunnel.pid
2026.12.02 03:57:40 LOG3[ui]: create: No such file or directory (2)
"""


def test_log_is_headlined_by_its_fatal_line_not_a_delayed_dns_lookup() -> None:
    report = diagnose([("stunnel.log", DELAYED_DNS_LOG.encode())])
    assert report.first_failure is not None
    assert report.first_failure[1].code == "stunnel.log_pid_file"
    dns = next(f for f in report.step(7).findings if f.code == "stunnel.log_dns")
    assert dns.status.value == "warn" and "not fatal" in dns.message


def test_name_advice_follows_the_certificate_step_4_received(
    stunnel_pki: StunnelPki, server: int, tmp_path: Path
) -> None:
    """verifyChain without checkIP, connecting to 127.0.0.1: the advice is the name the certificate holds."""
    folder = onboarding(stunnel_pki, tmp_path / "files")
    conf = _checkip_config(stunnel_pki, folder, server)
    conf.write_text(conf.read_text().replace("checkIP = 127.0.0.1\n", ""))
    report = diagnose_json("--stunnel", str(conf), "--connect", f"127.0.0.1:{server}", "--timeout", "5", str(folder))
    f = finding(report, 7, "stunnel.no_checkhost")
    assert "checkHost = localhost" in f["remediation"] and "checkIP = 127.0.0.1" not in f["remediation"]


def test_a_checkhost_the_certificate_holds_is_not_questioned(
    stunnel_pki: StunnelPki, tmp_path: Path
) -> None:
    """checkHost differs from the connect host, but the server certificate holds it: stunnel accepts, no warning."""
    s = stunnel_pki.server
    subprocess.run(
        ["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "alias.key", "-out", "alias.csr",
         "-subj", "/CN=fix.sandbox.test"], cwd=tmp_path, check=True, capture_output=True, timeout=60,
    )
    (tmp_path / "san.ext").write_text("subjectAltName = DNS:fix.sandbox.test\n")
    subprocess.run(
        ["openssl", "x509", "-req", "-in", "alias.csr", "-CA", str(s.ca_pem), "-CAkey", str(s.ca_key), "-set_serial",
         "8", "-days", "30", "-extfile", "san.ext", "-out", "alias.crt"], cwd=tmp_path, check=True,
        capture_output=True, timeout=60,
    )
    folder = onboarding(stunnel_pki, tmp_path / "files")
    with openssl_s_server(tmp_path / "alias.crt", tmp_path / "alias.key", stunnel_pki.client.ca_crt, "1.3") as (_h, port):
        conf = _checkip_config(stunnel_pki, folder, port)
        conf.write_text(
            conf.read_text()
            .replace("checkIP = 127.0.0.1", "checkHost = fix.sandbox.test")
            .replace(f"connect = 127.0.0.1:{port}", f"connect = localhost:{port}")
        )
        config_only = diagnose([], stunnel=(conf.name, conf.read_bytes()))
        report = diagnose_json("--stunnel", str(conf), "--connect", f"localhost:{port}", "--timeout", "5", str(folder))
    assert "stunnel.checkhost_differs" in {f.code for f in config_only.step(7).findings}  # the text alone
    s7 = codes(report, 7)
    assert "stunnel.checkhost_differs" not in s7 and "stunnel.check_name_not_in_cert" not in s7


@pytest.mark.parametrize(("then", "first"), [("close", "may not speak TLS"), ("reset", "may not speak TLS")])
def test_stunnel_hung_up_on_in_the_handshake(stunnel_pki: StunnelPki, tmp_path: Path, then: str, first: str) -> None:
    """stunnel's connect port reads the hello and hangs up: 'unexpected eof' and a reset both lead with "not TLS"
    (after the hello an allow-list is the less likely cause; it was the allow-list alone, then first for a reset)."""
    stunnel_exe()
    folder = onboarding(stunnel_pki, tmp_path / "files")
    with scripted_server(b"", then=then) as (_host, port):
        conf = _checkip_config(stunnel_pki, folder, port)
        tunnel = through_stunnel.run(conf, conf.read_bytes(), timeout=3.0)
    report = diagnose([], stunnel=(conf.name, conf.read_bytes()), tunnel_run=tunnel)
    f = next(x for x in report.step(7).findings if x.code == "stunnel.log_reset")
    assert "may not speak TLS" in f.message and "allow-list" in f.message
    other = "allow-list" if first == "may not speak TLS" else "may not speak TLS"
    assert f.message.index(first) < f.message.index(other), f.message


# ------------------------------------------------------------------ QA of issue 11: one cause, stated once
# Before: with CAfile = ca.crt and --through-stunnel, stunnel.cafile_is_client_ca and
# stunnel.log_server_cert_untrusted both said "put itbit-ca.pem in CAfile"; stunnel.run_tls_failed
# pointed at "the log findings above" that had been folded away; -v showed stunnel.ok next to the
# log_checkhost_failed its own run produced.


def test_cafile_is_client_ca_is_said_once_and_the_log_confirms_it(
    stunnel_pki: StunnelPki, server: int, tmp_path: Path
) -> None:
    folder = onboarding(stunnel_pki, tmp_path / "files")
    conf = _checkip_config(stunnel_pki, folder, server, cafile=folder / "ca.crt")
    report = diagnose_json("--stunnel", str(conf), "--through-stunnel", "--timeout", "5", str(folder))
    s7 = codes(report, 7)
    assert s7["stunnel.cafile_is_client_ca"] == "fail"
    assert "stunnel.log_server_cert_untrusted" not in s7
    config = finding(report, 7, "stunnel.cafile_is_client_ca")
    assert "stunnel's log shows it: '" in config["message"] and "certificate verify failed" in config["message"]
    assert config["evidence"]["confirmed_by"] == "stunnel.log_server_cert_untrusted"
    assert json.dumps(report).count("itbit-ca.pem (the certificate copied") == 1  # one remediation
    run = finding(report, 7, "stunnel.run_tls_failed")
    assert "stunnel.cafile_is_client_ca above says why" in run["message"]
    assert "log findings above" not in run["message"]


def test_no_correct_configuration_beside_its_own_failed_name_check(
    stunnel_pki: StunnelPki, server: int, tmp_path: Path
) -> None:
    folder = onboarding(stunnel_pki, tmp_path / "files")
    conf = _checkip_config(stunnel_pki, folder, server)
    report = diagnose_json("--stunnel", str(conf), "--through-stunnel", "--timeout", "5", str(folder))
    s7 = codes(report, 7)
    assert s7["stunnel.log_checkhost_failed"] == "fail"
    assert "stunnel.ok" not in s7
    assert "stunnel.log_checkhost_failed above says why" in finding(report, 7, "stunnel.run_tls_failed")["message"]
    # The endpoint is known (the tunnel's connect): the command names it, not HOST:PORT.
    (command,) = finding(report, 7, "stunnel.log_checkhost_failed")["commands"]
    assert f"-connect 127.0.0.1:{server} " in command and "HOST:PORT" not in command


def test_stunnel_connecting_to_itself_is_a_failure() -> None:
    text = GUIDE_TEMPLATE.format(
        pid="", accept=1234, cert="/etc/fix/fix.itbit.pem", cafile="/etc/fix/itbit-ca.pem", connect="127.0.0.1:1234"
    )
    s7 = {f.code: f for f in diagnose([], stunnel=("itbit.conf", text.encode())).step(7).findings}
    loop = s7["stunnel.connect_is_accept"]
    assert loop.status.value == "fail" and "connect to itself" in loop.message
    assert "stunnel.connect_unconfirmed" not in s7 and "stunnel.ok" not in s7
    # Another port on this machine (a local FIX test server) is no loop.
    other = text.replace("connect = 127.0.0.1:1234", "connect = 127.0.0.1:4490")
    assert "stunnel.connect_is_accept" not in {f.code for f in diagnose([], stunnel=("c", other.encode())).step(7).findings}

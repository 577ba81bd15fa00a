"""The table of stunnel log lines (`log_rules.LOG_RULES`): each row, a real line it reads, what it gives.

Every sample is stunnel 5.68's own wording, from the real runs in `tests/stunnel` and
`tests/fix` or from a run made for this table (paths and addresses shortened). Each
sample names the code and status it must give and a few words of the message that only
its row says, so removing or reordering a row fails here; `test_every_row_has_a_sample`
fails when a row is added without a sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.engine import Status, diagnose
from bot.engine.steps.stunnel import log as slog
from bot.engine.steps.stunnel.checks_log import check_log
from bot.engine.steps.stunnel.log_rules import AFTER, LOG_RULES, READER_FIELDS, LogRule


@dataclass(frozen=True)
class Sample:
    log: str  # the log text; its last line is the one the row reads
    code: str
    status: Status
    says: str  # words of the finding's message that only this row says


SAMPLES: tuple[Sample, ...] = (
    # stunnel 5.68 with `pid = relative.pid` (not in the foreground): the section comes first.
    Sample("[!] Global options: Pid file must include full path name", "stunnel.log_pid_file", Status.FAIL, "pid file's path"),
    # The same text as options.c writes it, for a log that names no section.
    Sample("[!] Pid file must include full path name", "stunnel.log_pid_file", Status.FAIL, "pid file's path"),
    Sample(
        "2026.12.02 06:24:50 LOG5[ui]: Configuration successful",
        "stunnel.log_config_ok",
        Status.PASS,
        "loaded its configuration",
    ),
    Sample("[!] Configuration failed", "stunnel.log_config_failed", Status.FAIL, "started no tunnel"),
    Sample(
        "[ ] Loading certificate from file: /home/u/fix/missing/fix.itbit.pem\n"
        "[!] SSL_CTX_use_certificate_chain_file: ../crypto/bio/bss_file.c:297: error:80000002:system library::No "
        "such file or directory",
        "stunnel.log_file_not_found",
        Status.FAIL,
        "could not open the certificate file /home/u/fix/missing/fix.itbit.pem",
    ),
    Sample(
        "[ ] Loading certificate from file: /home/u/fix/host.crt\n"
        "[ ] Loading private key from file: /home/u/other/host.key\n"
        "[!] SSL_CTX_use_PrivateKey_file: ../crypto/x509/x509_cmp.c:403: error:05800074:x509 certificate "
        "routines::key values mismatch",
        "stunnel.log_key_mismatch",
        Status.FAIL,
        "'key values mismatch'",
    ),
    Sample(
        "[ ] Loading certificate from file: /home/u/fix/host.crt\n"
        "[ ] Loading private key from file: /home/u/fix/host.crt\n"
        "[!] SSL_CTX_use_PrivateKey_file: ../crypto/encode_decode/decoder_lib.c:103: error:1E08010C:DECODER "
        "routines::unsupported",
        "stunnel.log_key_unreadable",
        Status.FAIL,
        "no usable private key in /home/u/fix/host.crt",
    ),
    Sample(
        '[!] /etc/stunnel/fix.conf:10: "verfyChain = yes": Specified option name is not valid here',
        "stunnel.log_illegal_option",
        Status.FAIL,
        "at line 10: verfyChain = yes",
    ),
    Sample(
        '[!] /etc/stunnel/fix.conf:12: "socket = l:TCP_NODLAY=1": Illegal socket option',
        "stunnel.log_config_line",
        Status.FAIL,
        "at line 12: socket = l:TCP_NODLAY=1: Illegal socket option.",
    ),
    Sample(
        "[!] Service [x]: TLS server needs a certificate",
        "stunnel.log_not_client",
        Status.FAIL,
        "running as a TLS server",
    ),
    Sample(
        '[!] Service [fix]: Either "verifyChain" or "verifyPeer" has to be enabled',
        "stunnel.log_checkhost_without_verify",
        Status.FAIL,
        "without verification",
    ),
    Sample(
        "[!] Inetd mode: 'accept' option is only allowed in a [section]",
        "stunnel.log_no_section",
        Status.FAIL,
        "no [service] section",
    ),
    Sample(
        "[.] Binding service [fix] to 127.0.0.1:57719: Address already in use (98)",
        "stunnel.log_address_in_use",
        Status.FAIL,
        "could not listen on 127.0.0.1:57719",
    ),
    Sample(
        "2026.12.02 06:31:03 LOG3[0]: s_connect: connect 127.0.0.1:44285: Connection refused (111)",
        "stunnel.log_connect_refused",
        Status.FAIL,
        "connection to 127.0.0.1:44285 was refused",
    ),
    Sample(
        "2026.04.10 09:55:14 LOG3[0]: s_connect: s_poll_wait 10.244.0.9:20049: TIMEOUTconnect exceeded",
        "stunnel.log_connect_timeout",
        Status.FAIL,
        "timed out",
    ),
    Sample(
        '2026.12.02 03:57:40 LOG3[ui]: Error resolving "nosuchhost.invalid": Neither nodename nor servname known '
        "(EAI_NONAME)",
        "stunnel.log_dns",
        Status.FAIL,
        "could not resolve the connect host nosuchhost.invalid",
    ),
    Sample(
        "2026.12.02 06:24:54 LOG4[0]: CERT: Subject checks failed",
        "stunnel.log_checkhost_failed",
        Status.FAIL,
        "does not match the name in the server certificate",
    ),
    Sample(
        "2026.12.02 06:24:54 LOG4[0]: CERT: Pre-verification error: unable to get local issuer certificate\n"
        "2026.12.02 06:24:54 LOG3[0]: SSL_connect: ../ssl/statem/statem_clnt.c:1889: error:0A000086:SSL "
        "routines::certificate verify failed",
        "stunnel.log_server_cert_untrusted",
        Status.FAIL,
        "('certificate verify failed'; CERT: Pre-verification error: unable to get local issuer certificate; step 4)",
    ),
    Sample(
        "2026.12.02 06:24:54 LOG3[0]: SSL_connect: ../ssl/statem/statem_clnt.c:1889: error:0A000086:SSL "
        "routines::certificate verify failed",
        "stunnel.log_server_cert_untrusted",
        Status.FAIL,
        "('certificate verify failed'; step 4)",
    ),
    Sample(
        "2026.12.02 06:31:01 LOG3[0]: SSL_accept: ../ssl/record/ssl3_record.c:350: error:0A00010B:SSL "
        "routines::wrong version number",
        "stunnel.log_not_client",
        Status.FAIL,
        "running as a TLS server",
    ),
    Sample(
        "2026.12.02 06:39:04 LOG3[0]: SSL_connect: ../ssl/record/ssl3_record.c:350: error:0A00010B:SSL "
        "routines::wrong version number",
        "stunnel.log_not_tls",
        Status.FAIL,
        "does not speak TLS",
    ),
    Sample(
        "2026.12.02 06:31:03 LOG3[0]: SSL_read: ../ssl/record/rec_layer_s3.c:1601: error:0A00045C:SSL "
        "routines::tlsv13 alert certificate required",
        "stunnel.log_client_cert_rejected",
        Status.FAIL,
        "'certificate required' alert (116) on SSL_read (step 4). No certificate was sent",
    ),
    Sample(
        "2026.12.02 06:31:03 LOG3[0]: SSL_connect: ../ssl/record/rec_layer_s3.c:1601: error:0A000410:SSL "
        "routines::sslv3 alert handshake failure",
        "stunnel.log_client_cert_rejected",
        Status.FAIL,
        "'handshake failure' alert (40) on SSL_connect (step 4). The server does not trust the CA",
    ),
    Sample(
        "2026.12.02 06:39:08 LOG3[0]: SSL_connect: ../ssl/record/rec_layer_s3.c:1601: error:0A00042E:SSL "
        "routines::tlsv1 alert protocol version",
        "stunnel.log_tls_alert",
        Status.FAIL,
        "the server's 'protocol version' alert (70) on SSL_connect",
    ),
    Sample(
        "2026.12.02 06:24:55 LOG3[0]: SSL_connect: ../ssl/record/rec_layer_s3.c:318: error:0A000126:SSL "
        "routines::unexpected eof while reading",
        "stunnel.log_reset",
        Status.FAIL,
        "closed the connection ('unexpected eof') during the TLS handshake",
    ),
    Sample(
        "2026.12.02 06:24:55 LOG3[0]: SSL_connect: Connection reset by peer (104)",
        "stunnel.log_reset",
        Status.FAIL,
        "reset the connection during the TLS handshake",
    ),
    Sample(
        "2026.12.02 06:31:03 LOG6[0]: TLS connected: new session negotiated\n"
        "2026.12.02 06:31:03 LOG6[0]: TLS fd: Connection reset by peer (104)",
        "stunnel.log_closed_after_handshake",
        Status.FAIL,
        "right after the TLS handshake",
    ),
    Sample(
        "2026.12.02 06:24:50 LOG4[ui]: Insecure file permissions on /home/u/fix/fix.itbit.pem",
        "stunnel.log_insecure_permissions",
        Status.PASS,
        "/home/u/fix/fix.itbit.pem (which holds a private key)",
    ),
    Sample(
        "2026.12.02 03:57:40 LOG4[ui]: Service [itbit-sandbox] needs authentication to prevent MITM attacks",
        "stunnel.log_verify_off",
        Status.WARN,
        "does not verify the server",
    ),
    Sample(
        "2026.12.02 06:38:40 LOG3[ui]: No trusted certificates found",
        "stunnel.log_no_trusted_certs",
        Status.WARN,
        "loaded no trusted CA",
    ),
    Sample(
        "2026.12.02 06:24:52 LOG5[0]: Connection closed: 176 byte(s) sent to TLS, 176 byte(s) sent to socket",
        "stunnel.log_traffic",
        Status.PASS,
        "(176 bytes to the exchange, 176 back)",
    ),
)


def _sample(says: str) -> Sample:
    (found,) = [s for s in SAMPLES if s.says == says]
    return found


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.code)
def test_a_sample_gives_its_rows_finding(sample: Sample) -> None:
    findings = check_log(sample.log, "stunnel.log")
    assert [(f.code, f.status) for f in findings] == [(sample.code, sample.status)]
    assert sample.says in findings[0].message
    assert findings[0].evidence["log_line"] == sample.log.count("\n") + 1


def test_a_real_refusal_of_a_relative_pid_file_names_its_cause() -> None:
    """stunnel 5.68's whole output for `pid = relative.pid` (not in the foreground), as printed here."""
    log = (
        "[ ] Initializing inetd mode configuration\n"
        "[.] Reading configuration from file /tmp/pidt/t2.conf\n"
        "[.] UTF-8 byte order mark not detected\n"
        "[!] Global options: Pid file must include full path name\n"
        "[!] Configuration failed\n"
        "[ ] Deallocating temporary section defaults\n"
    )
    # The cause alone: 'Configuration failed' adds nothing when its cause is in the log.
    assert [f.code for f in check_log(log, "stunnel.log")] == ["stunnel.log_pid_file"]


def test_every_row_has_a_sample() -> None:
    """A row added without a sample (or a sample no row reads) fails here."""
    read_by = {id(e.rule) for s in SAMPLES for e in slog.events(s.log) if e.rule is not None}
    missing = [(row.kind, row.code) for row in LOG_RULES if id(row) not in read_by]
    assert not missing


def test_the_first_matching_row_decides() -> None:
    """'SSL_CTX_use_PrivateKey_file: ... key values mismatch' is read by two rows: the mismatch row is first."""
    log = _sample("'key values mismatch'").log
    message = log.splitlines()[-1].split("] ", 1)[1]
    matching = [r.code for r in LOG_RULES if r.pattern.search(message)]
    assert matching == ["stunnel.log_key_mismatch", "stunnel.log_key_unreadable"]
    assert [f.code for f in check_log(log, "stunnel.log")] == ["stunnel.log_key_mismatch"]


def test_lines_of_one_kind_are_one_finding_with_a_count() -> None:
    refused = _sample("connection to 127.0.0.1:44285 was refused").log
    (finding,) = check_log(f"{refused}\n{refused}\n{refused}", "stunnel.log")
    assert finding.code == "stunnel.log_connect_refused" and finding.evidence["count"] == 3
    assert finding.evidence["log_line"] == 1


def test_fields_go_to_the_evidence_with_their_types() -> None:
    (alert,) = check_log(
        _sample("'handshake failure' alert (40) on SSL_connect (step 4). The server does not trust the CA").log,
        "stunnel.log",
    )
    assert {k: alert.evidence[k] for k in ("alert", "number", "call")} == {
        "alert": "handshake failure",
        "number": 40,
        "call": "SSL_connect",
    }
    (traffic,) = check_log(_sample("(176 bytes to the exchange, 176 back)").log, "stunnel.log")
    assert (traffic.evidence["to_tls"], traffic.evidence["to_socket"]) == (176, 176)
    (reset,) = check_log(
        _sample("closed the connection ('unexpected eof') during the TLS handshake").log, "stunnel.log"
    )
    assert reset.evidence["closed_with"] == "FIN"


def test_a_row_needing_an_earlier_line_waits_for_it() -> None:
    """'No such file or directory' names a file only after stunnel said which file it was loading."""
    alone = _sample("could not open the certificate file /home/u/fix/missing/fix.itbit.pem").log.splitlines()[-1]
    assert [f.code for f in check_log(alone, "stunnel.log")] == ["stunnel.log_nothing_known"]


def test_a_pasted_log_reaches_the_table_through_diagnose() -> None:
    log = _sample("the server's 'protocol version' alert (70) on SSL_connect").log
    report = diagnose([("stunnel.log", log.encode())])
    codes = {f.code: f.status for r in report.steps for f in r.findings}
    assert codes.get("stunnel.log_tls_alert") is Status.FAIL


@pytest.mark.parametrize("row", LOG_RULES, ids=lambda r: r.kind)
def test_a_row_names_only_values_it_has(row: LogRule) -> None:
    groups = set(row.pattern.groupindex)
    assert row.after is None or row.after in AFTER
    assert set(row.fields) <= groups | READER_FIELDS
    values = dict.fromkeys([*groups, *row.fields, "said"], "x")
    for text in (row.message, row.remediation or "", *row.commands):
        text.format(**values)  # a KeyError names a field the row does not have

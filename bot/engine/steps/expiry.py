"""Step 8: when do the client certificate and the client CA expire, and what renewal applies?

The guide: renewing only the host certificate needs nothing from the exchange; a new CA
means the new ca.crt must be sent to the exchange before connecting again.
"""

from __future__ import annotations

import datetime as dt

from cryptography import x509

from bot.engine import certs
from bot.engine.context import Context
from bot.engine.report import Finding, Status
from bot.engine.roles import Onboarding
from bot.engine.steps._common import (
    CLIENT_BUNDLE,
    CLIENT_CA,
    RENEW_CA,
    RENEW_CA_TEXT,
    RENEW_EXCHANGE_SIGNED_TEXT,
    RENEW_HOST_CERT,
    RENEW_HOST_TEXT,
    missing_client_cert,
    q,
)

NUMBER = 8
TITLE = "Certificates are within their validity"
WARN_DAYS = 30
WARN_WINDOW = dt.timedelta(days=WARN_DAYS)
RENEW_UNKNOWN_SIGNER_TEXT = (
    "Which renewal applies depends on who signed the certificate (issuer '{issuer}'). If you made it "
    "with your own CA (the guide's ca.key and ca.crt), make a new host key and certificate with the "
    "guide's onboarding commands (step 8): ca.crt does not change. If the exchange signed it, send "
    "the exchange a new CSR. Add ca.crt to the files to tell: step 1 then checks it."
)

# Step 1's findings that say the given ca.crt did not sign the certificate.
NOT_SIGNED_BY_CA = frozenset({"verify.bad_signature", "verify.wrong_ca"})
RENEW_OTHER_CA_TEXT = (
    "Step 1 found that {ca} did not sign this certificate (it was regenerated after signing, or is another CA), "
    "so renew with the CA the exchange has installed: with the ca.key and ca.crt that signed this certificate, "
    "make a new host key and certificate (the guide's onboarding commands, step 8) and nothing goes to the "
    "exchange. If that CA is lost, sign with your current ca.key and send its ca.crt to the exchange: the "
    "connection works only after the exchange has installed it."
)


def run(ctx: Context) -> list[Finding]:
    ob = ctx.onboarding
    findings: list[Finding] = []
    leaf = ob.client_cert.cert if ob.client_cert else None
    if leaf is None:
        findings.append(missing_client_cert(ob, "expiry.no_certificate"))
    else:
        step1 = ctx.results.get(1)
        host_text, host_commands = _host_renewal(ob, ctx.now, {f.code for f in step1.findings} if step1 else set())
        findings.append(
            _judge(
                "expiry.client_cert",
                "client certificate",
                leaf,
                q(ob.client_cert_file, CLIENT_BUNDLE),
                ctx.now,
                host_text,
                host_commands,
            )
        )
    for ca in ob.client_ca:
        findings.append(
            _judge(
                "expiry.client_ca",
                f"client CA '{certs.subject_name(ca)}'",
                ca,
                q(ob.client_ca_file, CLIENT_CA),
                ctx.now,
                RENEW_CA_TEXT,
                RENEW_CA,
            )
        )
    for ca in ob.server_ca:
        if ob.server_ca_file == ob.client_ca_file:
            break
        finding = _judge(
            "expiry.server_ca",
            f"exchange server CA '{certs.subject_name(ca)}'",
            ca,
            q(ob.server_ca_file, "itbit-ca.pem"),
            ctx.now,
            "Copy the current server CA certificate from the exchange's onboarding page into itbit-ca.pem.",
            (),
        )
        if finding.status is not Status.PASS:
            findings.append(finding)
    return findings


def _host_renewal(ob: Onboarding, now: dt.datetime, step1: set[str]) -> tuple[str, tuple[str, ...]]:
    if step1 & NOT_SIGNED_BY_CA:
        # Step 1 showed the given ca.crt did not sign it: "ca.crt does not change" would contradict
        # its "a new ca.crt must be sent"; the renewal depends on which CA the exchange holds.
        return RENEW_OTHER_CA_TEXT.format(ca=q(ob.client_ca_file, CLIENT_CA)), RENEW_HOST_CERT
    if not ob.made_own_ca and ob.client_ca_file is None and ob.client_cert is not None:
        # Nothing given says who signed it (step 1 asks for the issuer's certificate): say both.
        issuer = certs.issuer_name(ob.client_cert.cert) if ob.client_cert.cert else "unknown"
        return RENEW_UNKNOWN_SIGNER_TEXT.format(issuer=issuer), ()
    if not ob.made_own_ca:
        return RENEW_EXCHANGE_SIGNED_TEXT, ()
    # A host certificate signed by a CA that is itself out of date (or about to be) fails
    # again at once: then the renewal is the CA's, and the new ca.crt goes to the exchange.
    # `now + WARN_WINDOW`, never `not_after - WARN_WINDOW`: a notAfter in year 1 (zlint's corpus)
    # is below datetime.min + 30 days and the subtraction overflows.
    if any(not (certs.not_before(ca) <= now and now + WARN_WINDOW <= certs.not_after(ca)) for ca in ob.client_ca):
        return RENEW_CA_TEXT, RENEW_CA
    return RENEW_HOST_TEXT, RENEW_HOST_CERT


# Which renewal a finding's remedy is, as a word a consumer can act on without parsing prose
# (a text not in this table, e.g. the unknown-signer one that names the issuer, is "other").
_RENEWAL_KIND = {RENEW_HOST_TEXT: "host", RENEW_EXCHANGE_SIGNED_TEXT: "exchange-signed", RENEW_CA_TEXT: "ca"}


def _judge(
    code: str,
    what: str,
    cert: x509.Certificate,
    file: str,
    now: dt.datetime,
    renewal: str,
    renew_commands: tuple[str, ...],
) -> Finding:
    end, start = certs.not_after(cert), certs.not_before(cert)
    days_left = (end - now).total_seconds() / 86400
    evidence = {
        "subject": certs.subject_name(cert),
        "not_before": start.isoformat(),
        "not_after": end.isoformat(),
        "days_left": int(days_left // 1),
        # Public facts that identify the certificate, for expiry watches (bot.watches).
        "issuer": certs.issuer_name(cert),
        "sha256_fingerprint": certs.sha256_fingerprint(cert),
        "renewal": _RENEWAL_KIND.get(renewal, "other"),
    }
    command = f"openssl x509 -noout -in {file} -enddate"
    when = certs.openssl_date(end)
    if days_left < 0:
        return Finding(
            f"{code}_expired",
            Status.FAIL,
            f"The {what} expired on {when} ({_days(-days_left)} ago).",
            renewal,
            (command, *renew_commands),
            evidence,
        )
    if start > now:
        return Finding(
            f"{code}_not_yet_valid",
            Status.FAIL,
            f"The {what} is not valid until {certs.openssl_date(start)}: check this machine's clock.",
            "Fix the clock (NTP), or reissue the certificate with a start date in the past.",
            (f"openssl x509 -noout -in {file} -startdate", "date -u"),
            evidence,
        )
    if days_left < WARN_DAYS:
        return Finding(
            f"{code}_expiring",
            Status.WARN,
            f"The {what} expires on {when}, in {_days(days_left)}.",
            "Renew it now. " + renewal,
            (command, *renew_commands),
            evidence,
        )
    return Finding(
        f"{code}_valid",
        Status.PASS,
        f"The {what} is valid until {when} ({_days(days_left)}).",
        commands=(command,),
        evidence=evidence,
    )


def _days(days: float) -> str:
    whole = int(days)
    if whole == 0:
        return "less than a day"
    return f"{whole} day" if whole == 1 else f"{whole} days"

"""The public facts a watch keeps about one client certificate (and its CA), taken from a Report.

Only what step 8's findings already show: fingerprints, subject, issuer, not-after dates and
which renewal applies. A `CertFacts` is also what a "Remind this channel" button carries, as
compact JSON, so that the click needs nothing but the message it came from.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

from bot.engine import Finding, Report

EXPIRY_STEP = 8
MAX_NAME = 200  # a subject or issuer longer than this is cut (a button value holds 2000 characters)
RENEWALS = ("host", "exchange-signed", "ca", "other")
_FINGERPRINT = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){31}$")


class BadFacts(ValueError):
    """A button value or stored row that is not a watch's facts."""


@dataclass(frozen=True)
class CertFacts:
    fingerprint: str
    subject: str
    issuer: str
    not_after: dt.datetime
    renewal: str  # the client certificate's own renewal: host | exchange-signed | other
    ca_fingerprint: str | None = None
    ca_subject: str | None = None
    ca_not_after: dt.datetime | None = None

    @property
    def deadline(self) -> dt.datetime:
        """The earlier of the certificate's and the CA's not-after: the connection stops then."""
        if self.ca_not_after is not None and self.ca_not_after < self.not_after:
            return self.ca_not_after
        return self.not_after

    @property
    def applied_renewal(self) -> str:
        """`ca` when the CA runs out first (a new ca.crt must reach the exchange), else the certificate's own."""
        if self.ca_not_after is not None and self.ca_not_after <= self.not_after:
            return "ca"
        return self.renewal

    @property
    def common_name(self) -> str:
        match = re.search(r"(?:^|[,/]\s*)CN\s*=\s*([^,/]+)", self.subject)
        return match.group(1).strip() if match else self.subject

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "f": self.fingerprint,
            "s": self.subject,
            "i": self.issuer,
            "n": _stamp(self.not_after),
            "r": self.renewal,
        }
        if self.ca_fingerprint and self.ca_not_after:
            data.update(cf=self.ca_fingerprint, cs=self.ca_subject or "", cn=_stamp(self.ca_not_after))
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> CertFacts:
        try:
            data = json.loads(text)
            facts = cls(
                fingerprint=_fingerprint(data["f"]),
                subject=_name(data["s"]),
                issuer=_name(data["i"]),
                not_after=_parse(data["n"]),
                renewal=data["r"] if data.get("r") in RENEWALS else "other",
                ca_fingerprint=_fingerprint(data["cf"]) if data.get("cf") else None,
                ca_subject=_name(data.get("cs", "")) if data.get("cf") else None,
                ca_not_after=_parse(data["cn"]) if data.get("cf") else None,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BadFacts(f"not a watch's certificate facts ({type(exc).__name__})") from None
        return facts


def from_report(report: Report) -> CertFacts | None:
    """The client certificate's facts from step 8, or None when no client certificate was diagnosed."""
    if len(report.steps) < EXPIRY_STEP:
        return None
    findings = report.step(EXPIRY_STEP).findings
    leaf = _first(findings, "expiry.client_cert_")
    if leaf is None:
        return None
    cas = [f for f in findings if f.code.startswith("expiry.client_ca_") and "sha256_fingerprint" in f.evidence]
    # The chain stops working when its first certificate expires: that CA is the one to watch.
    ca = min(cas, key=lambda f: str(f.evidence.get("not_after", "")), default=None)
    ev = leaf.evidence
    try:
        return CertFacts(
            fingerprint=_fingerprint(ev["sha256_fingerprint"]),
            subject=_name(ev["subject"]),
            issuer=_name(ev.get("issuer", "")),
            not_after=_parse(ev["not_after"]),
            renewal=str(ev.get("renewal", "other")) if ev.get("renewal") in RENEWALS else "other",
            ca_fingerprint=_fingerprint(ca.evidence["sha256_fingerprint"]) if ca else None,
            ca_subject=_name(ca.evidence.get("subject", "")) if ca else None,
            ca_not_after=_parse(ca.evidence["not_after"]) if ca else None,
        )
    except (KeyError, ValueError, TypeError):
        return None


def _first(findings: tuple[Finding, ...], prefix: str) -> Finding | None:
    for f in findings:
        if f.code.startswith(prefix) and "sha256_fingerprint" in f.evidence:
            return f
    return None


def _fingerprint(value: object) -> str:
    text = str(value).upper()
    if not _FINGERPRINT.match(text):
        raise ValueError("not a SHA-256 fingerprint")
    return text


def _name(value: object) -> str:
    text = str(value)
    if any(ord(c) < 32 for c in text):
        text = "".join(c if ord(c) >= 32 else " " for c in text)
    return text[:MAX_NAME]


def _parse(value: object) -> dt.datetime:
    when = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC)


def _stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

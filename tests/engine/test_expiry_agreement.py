"""Steps 1 and 8 agree on every expiry variant (issue 11, item 6).

Each variant re-issues the test CA (same ca.key, same name; or a regenerated one: a new ca.key
under the same name, OpenSSL error 7) and the host certificate for
forced dates, then diagnoses the bundle with and without ca.crt. Whatever the dates, the
two steps must name the same expired certificate and the same renewal: never "send a new
ca.crt to the exchange" next to "ca.crt does not change".
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from bot.engine import diagnose
from bot.engine.report import Report, Status
from bot.lab.onboarding import sign_ca_with_dates, sign_host_with_dates
from tests.pki import Pki, run_openssl

NOW = dt.datetime.now(dt.UTC)
REGENERATED = "ca-regenerated"
DAY = dt.timedelta(days=1)

# (CA not_before, CA not_after) and (host not_before, host not_after), in days from now.
CA_DATES = {
    "ca-valid": (-501, 499),
    "ca-expired": (-1001, -1),
    "ca-not-yet-valid": (1, 1000),
    "ca-expiring": (-990, 10),
    # Regenerated after the host certificate was signed: the same name, a new ca.key (OpenSSL error 7).
    REGENERATED: (-5, 995),
}
HOST_DATES = {
    "host-valid": (-10, 490),
    "host-expired": (-501, -1),
    "host-not-yet-valid": (1, 500),
    "host-expiring": (-490, 10),
    # Issued before the CA's own validity began: a CA re-issued later with the same key.
    "host-older-than-ca": (-1200, -700),
}
KEEP_CA = "ca.crt does not change"
NEW_CA = ("send the new ca.crt to the exchange", "must be sent to the exchange")


@pytest.fixture(scope="module")
def variants(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], tuple[bytes, bytes]]:
    """(CA variant, host variant) -> (fix.itbit.pem, ca.crt), all from one CA key and one host key."""
    folder = tmp_path_factory.mktemp("expiry-variants")
    for name in ("ca.key", "ca.crt", "host.key", "host.csr"):
        shutil.copy(pki.client.folder / name, folder / name)
    host_key = (folder / "host.key").read_bytes()
    out: dict[tuple[str, str], tuple[bytes, bytes]] = {}
    regenerated = folder / "regenerated"
    regenerated.mkdir()
    shutil.copy(folder / "ca.crt", regenerated / "ca.crt")
    run_openssl("genrsa", "-out", "ca.key", "2048", cwd=regenerated)  # a new key under the same CA name
    for ca_name, (ca_from, ca_to) in CA_DATES.items():
        where = regenerated if ca_name == REGENERATED else folder
        ca = sign_ca_with_dates(where, NOW + ca_from * DAY, NOW + ca_to * DAY, f"{ca_name}.crt").read_bytes()
        for host_name, (host_from, host_to) in HOST_DATES.items():
            host = sign_host_with_dates(folder, NOW + host_from * DAY, NOW + host_to * DAY, "h.crt").read_bytes()
            out[ca_name, host_name] = (host + host_key, ca)
    return out


def _texts(report: Report, step: int) -> str:
    return " ".join(f"{f.message} {f.remediation or ''}" for f in report.step(step).findings)


def _codes(report: Report, step: int) -> set[str]:
    return {f.code for f in report.step(step).findings if f.status is not Status.PASS}


def _openssl_no_check_time(folder: Path, bundle: bytes, ca: bytes) -> int:
    (folder / "fix.itbit.pem").write_bytes(bundle)
    (folder / "ca.crt").write_bytes(ca)
    return run_openssl("verify", "-no_check_time", "-CAfile", "ca.crt", "fix.itbit.pem", cwd=folder).returncode


@pytest.mark.parametrize("with_ca", [True, False], ids=["with-ca.crt", "without-ca.crt"])
@pytest.mark.parametrize("host_name", list(HOST_DATES))
@pytest.mark.parametrize("ca_name", list(CA_DATES))
def test_steps_1_and_8_agree(
    variants: dict[tuple[str, str], tuple[bytes, bytes]], ca_name: str, host_name: str, with_ca: bool, tmp_path: Path
) -> None:
    bundle, ca = variants[ca_name, host_name]
    files = [("fix.itbit.pem", bundle)] + ([("ca.crt", ca)] if with_ca else [])
    report = diagnose(files)
    said = _texts(report, 1) + " " + _texts(report, 8)
    # One renewal, said once: never a new ca.crt and an unchanged ca.crt in the same report.
    assert not (KEEP_CA in said and any(n in said for n in NEW_CA)), said
    step1, step8 = _codes(report, 1), _codes(report, 8)
    host_out = host_name in ("host-expired", "host-not-yet-valid", "host-older-than-ca")
    ca_out = ca_name in ("ca-expired", "ca-not-yet-valid")
    if not with_ca:
        assert step1 == {"verify.no_ca"}
        # Without ca.crt nothing says who signed the certificate: step 8 does not guess.
        assert "signed by the exchange" not in said
        if host_name in ("host-expired", "host-older-than-ca", "host-expiring"):
            assert "If you made it with your own CA" in _texts(report, 8)
        return
    if ca_name == REGENERATED:
        # Step 1: ca.crt did not sign it (OpenSSL error 7), and the dates are said there too.
        assert "verify.bad_signature" in step1, step1
        if host_out:
            assert (" also expired" in _texts(report, 1) or " also not valid until" in _texts(report, 1))
            assert "step 8" in _texts(report, 1)
        assert ("expiry.client_cert_expired" in step8 or "expiry.client_cert_not_yet_valid" in step8) == host_out
        if host_name in ("host-expired", "host-older-than-ca", "host-expiring"):
            assert KEEP_CA not in said and "Step 1 found that" in _texts(report, 8)
        return
    # Step 8 fails exactly the certificates that are out of date...
    assert ("expiry.client_cert_expired" in step8 or "expiry.client_cert_not_yet_valid" in step8) == host_out
    assert ("expiry.client_ca_expired" in step8 or "expiry.client_ca_not_yet_valid" in step8) == ca_out
    # ...and step 1 fails on a date exactly then, saying that nothing but the dates is wrong.
    date_codes = {"verify.expired", "verify.ca_expired", "verify.not_yet_valid"}
    if host_out or ca_out:
        assert step1 & date_codes, step1
        assert "Apart from the dates the certificate validates" in _texts(report, 1)
        assert report.step(1).findings[0].remediation is None
        # ...which the command it lists confirms: openssl itself, dates left out.
        assert _openssl_no_check_time(tmp_path, bundle, ca) == 0
    else:
        assert report.step(1).status is Status.PASS, _texts(report, 1)
    # The renewal step 8 names for an ended host certificate (a future one is a clock question):
    # a CA that is out of date, or about to be, cannot sign it, so the renewal is the CA's.
    if host_name in ("host-expired", "host-older-than-ca", "host-expiring"):
        if ca_name == "ca-valid":
            assert KEEP_CA in _texts(report, 8)
        else:
            assert KEEP_CA not in said and "send the new ca.crt to the exchange" in _texts(report, 8)


def test_demo_expired_scenario_is_a_real_expiry(pki: Pki, tmp_path: Path) -> None:
    """The demo's onboarding was made 501 days ago: only host.crt has expired, and both steps say so."""
    from dataclasses import fields

    from bot.cli.demo import offline_scenarios
    from bot.lab.onboarding import ClientFiles

    folder = tmp_path / "client"
    shutil.copytree(pki.client.folder, folder)  # the demo writes beside the CA: keep the session's PKI intact
    paths = {f.name: folder / getattr(pki.client, f.name).name for f in fields(ClientFiles) if f.name != "folder"}
    client = ClientFiles(folder=folder, **paths)
    scenario = next(s for s in offline_scenarios(client, pki.server, tmp_path) if s.title == "Expired certificate")
    report = diagnose(scenario.files)
    assert _codes(report, 1) == {"verify.expired"}
    assert "Apart from the dates the certificate validates" in _texts(report, 1)
    assert _codes(report, 8) == {"expiry.client_cert_expired"}  # the CA is within its 1000 days
    said = _texts(report, 1) + _texts(report, 8)
    assert KEEP_CA in said and not any(n in said for n in NEW_CA)

"""Step 1's table of OpenSSL verify errors: every row is reached, and says what it must."""

from __future__ import annotations

import re

import pytest
from cryptography import x509

from bot.engine.steps.verify import explanations as table
from tests.pki import NOW, Pki

# (error number, depth) -> the code step 1 gives; written out here, apart from the table,
# so that a row removed or changed there fails here.
EXPECTED = {
    (2, 0): "verify.incomplete_chain",
    (2, 1): "verify.incomplete_chain",
    (7, 0): "verify.bad_signature",
    (9, 0): "verify.not_yet_valid",
    (9, 1): "verify.not_yet_valid",
    (10, 0): "verify.expired",
    (10, 1): "verify.ca_expired",
    (18, 0): "verify.self_signed",
    (20, 0): "verify.wrong_ca",
    (20, 1): "verify.incomplete_chain",
    (24, 1): "verify.invalid_ca",
    (66, 0): "verify.too_weak",
    (67, 1): "verify.too_weak",
    (68, 1): "verify.too_weak",
    (19, 1): "verify.failed",  # self-signed certificate in the chain: no words of its own
    (99, 0): "verify.failed",
}


def _rows() -> list[table.Explanation]:
    return [*table.AT_LEAF.values(), *table.BY_ERROR.values(), table.OTHER]


@pytest.mark.parametrize(("error", "code"), sorted(EXPECTED.items()))
def test_each_error_gets_its_code(error: tuple[int, int], code: str) -> None:
    assert table.explanation(*error).code == code


def test_every_row_is_reached() -> None:
    reached = {id(table.explanation(*error)) for error in EXPECTED}
    unreached = [row.code for row in _rows() if id(row) not in reached]
    assert not unreached, f"rows no error reaches (add the error to EXPECTED): {unreached}"


@pytest.mark.parametrize(("error", "code"), sorted(EXPECTED.items()))
def test_each_row_fills_its_templates(pki: Pki, error: tuple[int, int], code: str) -> None:
    cert = x509.load_pem_x509_certificate(pki.read("client/expired.crt"))
    cas = x509.load_pem_x509_certificates(pki.read("client/ca.crt"))
    number, depth = error
    evidence: dict[str, object] = {}
    finding = table.explain((number, depth, "the text"), cert, cas, NOW, ("'my host.crt'", "ca.crt"), evidence)
    assert finding.code == code
    assert f"OpenSSL error {number} at depth {depth}: the text." in finding.message
    assert finding.commands[0] == "openssl verify -CAfile ca.crt 'my host.crt'"
    assert not re.search(r"[{}]", finding.message + "".join(finding.commands))
    # The dates rows check again without the dates; the others say the certificate expired too.
    if table.explanation(number, depth).about_dates:
        assert evidence == {"valid_otherwise": True} and finding.remediation is None
        assert "Apart from the dates the certificate validates" in finding.message
    else:
        assert "valid_otherwise" not in evidence and finding.remediation is not None


@pytest.mark.parametrize(("depth", "starts"), [(0, "The client certificate has expired."), (1, "The CA certificate at depth 1 has expired.")])
def test_a_sentence_names_the_ca_in_capitals(pki: Pki, depth: int, starts: str) -> None:
    cert = x509.load_pem_x509_certificate(pki.read("client/expired.crt"))
    cas = x509.load_pem_x509_certificates(pki.read("client/ca.crt"))
    finding = table.explain((10, depth, "certificate has expired"), cert, cas, NOW, ("host.crt", "ca.crt"), {})
    assert finding.message.startswith(starts), finding.message

"""The lab: a local onboarding and a local mTLS server, for `fixcheck demo` and the tests.

- `onboarding`: makes the guide's files with the real `openssl` CLI, as the guide does:
  `make_client` (the client CA, the host key and certificate, `fix.itbit.pem`),
  `make_server` (an exchange's CA and server certificate), `sign_host_with_dates` and
  `sign_ca_with_dates` for dates openssl cannot set; `OpenSSLMissingError` without openssl;
- `server`: `local_mtls_server`, an mTLS server on 127.0.0.1 that behaves like the exchange
  (it requires a client certificate and then waits, as a FIX acceptor does), and
  `network_cases`, the demo's network scenarios against it (a working setup, an
  unregistered client CA, the wrong `itbit-ca.pem`, a closed port).

Everything is made in a temporary folder the caller owns; nothing here is used by the
Slack bot or by a diagnosis of real files.
"""

"""The lab: a local onboarding and a local mTLS server, for `fixcheck demo` and the tests.

- `onboarding`: makes the guide's files with the real `openssl` CLI, as the guide does
  (the client CA, the host key and certificate, `fix.itbit.pem`, and an exchange's CA and
  server certificate);
- `server`: a local mTLS server on 127.0.0.1 that behaves like the exchange, or like one of
  the ways an exchange fails (refuses, resets, rejects the client certificate...).

Nothing here is used by the Slack bot or by a diagnosis of real files.
"""

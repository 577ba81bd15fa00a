"""Step 1 — does the client CA validate the client certificate (`openssl verify -CAfile`)?

- `step`: the step itself (`NUMBER`, `TITLE`, `run`);
- `verification`: OpenSSL's own verification, as `openssl verify -CAfile` runs it;
- `explanations`: the table of OpenSSL verify errors -> findings (code, message, remediation, commands).
"""

from bot.engine.steps.verify.step import NUMBER, TITLE, run

__all__ = ["NUMBER", "TITLE", "run"]

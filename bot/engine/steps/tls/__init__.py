"""Step 4 — the mTLS handshake with the FIX server, and what follows it on the same connection.

- `step`: the step itself (`NUMBER`, `TITLE`, `run`): which findings the handshake gives;
- `evidence`: the evidence every handshake finding carries, and the `openssl s_client` commands;
- `failed`: a handshake that did not hold (client certificate refused, failure, timeout, not TLS);
- `close`: a server that closes or resets right after the handshake, and what it means;
- `server`: the server's certificate (trusted by the server CA file? names the host?);
- `tunnel`: the handshake and Logon made through the user's own stunnel (`--through-stunnel`);
- `logon`: the FIX Logon's findings (beyond the guide); the FIX codec itself is `bot.engine.net.fix`.
"""

from bot.engine.steps.tls.step import NUMBER, TITLE, run

__all__ = ["NUMBER", "TITLE", "run"]

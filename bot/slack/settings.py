"""The bot's configuration, read once from the environment.

Every variable is validated up front: a missing or malformed value raises
`ConfigError` with one line that names the variable, and `fixcheck-bot` exits 2.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_PORT = 3000
DEFAULT_ALLOWED_ENDPOINTS = ("*.itbit.com:*", "*.paxos.com:*")
DEFAULT_MAX_FILE_BYTES = 256 * 1024
MAX_FILE_BYTES_LIMIT = 1024 * 1024  # the engine reads nothing larger
DEFAULT_WORKERS = 16
DEFAULT_PROBES_PER_MINUTE = 6
DEFAULT_JOBS_PER_MINUTE = 20  # diagnoses (uploads, pastes, commands) per user
DEFAULT_PROBE_TIMEOUT = 10.0
DEFAULT_SOCKET_GRACE = 30.0  # seconds the Socket Mode connection may be down before /healthz says 503
DEFAULT_SHUTDOWN_GRACE = 10.0  # seconds jobs in flight get after SIGTERM
_LOG_FORMATS = ("text", "json")

# host:port patterns: letters, digits, dots, dashes, underscores, `*`; IPv6 in brackets.
_PATTERN = re.compile(r"^(?:\[[0-9A-Fa-f:.*]+\]|[A-Za-z0-9.\-_*]+):(?:\d{1,5}|\*)$")
_LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


class ConfigError(ValueError):
    """A configuration problem, described in one line that names the variable."""


@dataclass(frozen=True)
class Settings:
    """Everything the bot reads from its environment (see the README's table)."""

    bot_token: str
    signing_secret: str | None
    app_token: str | None = None
    api_url: str = DEFAULT_API_URL
    port: int = DEFAULT_PORT
    bind: str = "0.0.0.0"
    allowed_endpoints: tuple[str, ...] = DEFAULT_ALLOWED_ENDPOINTS
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    workers: int = DEFAULT_WORKERS
    probes_per_minute: int = DEFAULT_PROBES_PER_MINUTE
    jobs_per_minute: int = DEFAULT_JOBS_PER_MINUTE
    probe_timeout: float = DEFAULT_PROBE_TIMEOUT
    log_level: str = "INFO"
    log_format: str = "text"
    redis_url: str | None = None
    socket_grace: float = DEFAULT_SOCKET_GRACE
    shutdown_grace: float = DEFAULT_SHUTDOWN_GRACE

    @property
    def socket_mode(self) -> bool:
        return self.app_token is not None

    @property
    def api_host(self) -> str:
        """`host[:port]` of SLACK_API_URL: file downloads may also come from there."""
        return urlsplit(self.api_url).netloc.lower()

    @property
    def api_scheme(self) -> str:
        return urlsplit(self.api_url).scheme.lower()

    def __repr__(self) -> str:  # never print the secrets
        return (
            f"Settings(mode={'socket' if self.socket_mode else 'http'}, api_url={self.api_url!r}, port={self.port}, "
            f"allowed_endpoints={self.allowed_endpoints!r}, max_file_bytes={self.max_file_bytes}, "
            f"shared_store={'redis' if self.redis_url else 'memory'})"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, posting_only: bool = False) -> Settings:
        """Read and validate the environment; raise `ConfigError` on the first problem.

        `posting_only` (the cron `reminders --now`) needs only the bot token: it receives nothing.
        """
        bot_token = _required(env, "SLACK_BOT_TOKEN")
        if not bot_token.startswith("xoxb-"):
            raise ConfigError("SLACK_BOT_TOKEN must be a bot token (it starts with xoxb-)")
        app_token = env.get("SLACK_APP_TOKEN", "").strip() or None
        if app_token is not None and not app_token.startswith("xapp-"):
            raise ConfigError(
                "SLACK_APP_TOKEN must be an app-level token (it starts with xapp-); unset it for HTTP mode"
            )
        signing_secret = env.get("SLACK_SIGNING_SECRET", "").strip() or None
        if app_token is None and signing_secret is None and not posting_only:
            raise ConfigError("SLACK_SIGNING_SECRET is required in HTTP mode (or set SLACK_APP_TOKEN for Socket Mode)")
        return cls(
            bot_token=bot_token,
            signing_secret=signing_secret,
            app_token=app_token,
            api_url=_api_url(env.get("SLACK_API_URL", "").strip() or DEFAULT_API_URL),
            port=_int(env, "PORT", DEFAULT_PORT, 1, 65535),
            bind=env.get("FIXCHECK_BIND", "").strip() or "0.0.0.0",
            allowed_endpoints=_patterns(env.get("FIXCHECK_ALLOWED_ENDPOINTS")),
            max_file_bytes=_int(env, "FIXCHECK_MAX_FILE_BYTES", DEFAULT_MAX_FILE_BYTES, 1, MAX_FILE_BYTES_LIMIT),
            workers=_int(env, "FIXCHECK_WORKERS", DEFAULT_WORKERS, 1, 256),
            probes_per_minute=_int(env, "FIXCHECK_PROBES_PER_MINUTE", DEFAULT_PROBES_PER_MINUTE, 0, 10_000),
            jobs_per_minute=_int(env, "FIXCHECK_JOBS_PER_MINUTE", DEFAULT_JOBS_PER_MINUTE, 1, 10_000),
            probe_timeout=_float(env, "FIXCHECK_PROBE_TIMEOUT", DEFAULT_PROBE_TIMEOUT, 0.5, 60.0),
            # FIXCHECK_LOG_LEVEL is the spec's name; LOG_LEVEL is kept for existing deployments.
            log_level=_log_level(
                env.get("FIXCHECK_LOG_LEVEL", "").strip() or env.get("LOG_LEVEL", "").strip() or "INFO"
            ),
            log_format=_choice(env, "FIXCHECK_LOG_FORMAT", _LOG_FORMATS),
            redis_url=_redis_url(env.get("FIXCHECK_REDIS_URL", "").strip()),
            socket_grace=_float(env, "FIXCHECK_SOCKET_GRACE", DEFAULT_SOCKET_GRACE, 1.0, 3600.0),
            shutdown_grace=_float(env, "FIXCHECK_SHUTDOWN_GRACE", DEFAULT_SHUTDOWN_GRACE, 0.0, 600.0),
        )


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is not set")
    return value


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw[:40]!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw[:40]!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _api_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.query:
        raise ConfigError(f"SLACK_API_URL must be an http(s) URL such as {DEFAULT_API_URL}, got {raw[:80]!r}")
    return raw if raw.endswith("/") else raw + "/"


def _patterns(raw: str | None) -> tuple[str, ...]:
    if raw is None:
        return DEFAULT_ALLOWED_ENDPOINTS
    out: list[str] = []
    for part in raw.split(","):
        pattern = part.strip().lower()
        if not pattern:
            continue
        if not _PATTERN.match(pattern):
            raise ConfigError(
                f"FIXCHECK_ALLOWED_ENDPOINTS: {pattern[:60]!r} is not a host:port pattern (e.g. *.itbit.com:* or fix.example.com:4490)"
            )
        out.append(pattern)
    return tuple(out)


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name, "").strip().lower() or choices[0]
    if raw not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, got {raw[:20]!r}")
    return raw


def _redis_url(raw: str) -> str | None:
    """redis://, rediss:// or unix:// (validated here so that a typo fails at start-up, not at the first event)."""
    if not raw:
        return None
    if urlsplit(raw).scheme not in ("redis", "rediss", "unix"):
        # Never echo the URL: it may carry a password.
        raise ConfigError("FIXCHECK_REDIS_URL must be a redis://, rediss:// or unix:// URL (e.g. redis://redis:6379/0)")
    return raw


def _log_level(raw: str) -> str:
    level = raw.upper()
    if level not in _LOG_LEVELS:
        raise ConfigError(
            f"FIXCHECK_LOG_LEVEL (or LOG_LEVEL) must be one of {', '.join(_LOG_LEVELS)}, got {raw[:20]!r}"
        )
    return level

"""Secrets kept in files: readable by their owner alone, or refused."""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path

from sheetfollow.errors import ConfigError


def read_private_file(path: Path, where: str, *, encoding: str = "utf-8") -> str:
    """The text of a secret file. `where` starts each message ("sheetfollow.toml:
    smtp.password_file: /etc/pw"). A file that other users can read is refused, because
    the secret in it is no longer one."""
    try:
        mode = path.stat().st_mode
        if os.name != "nt" and mode & 0o077:
            raise ConfigError(
                f"{where} can be read by other users (mode {stat.S_IMODE(mode):o}); "
                f"make it private with: chmod 600 {path}"
            )
        return path.read_text(encoding=encoding)
    except FileNotFoundError:
        raise ConfigError(f"{where} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"{where} is a folder, not a file") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"{where} cannot be read ({reason})") from None


#: The environment variable that holds the team secret of the reply buttons.
INBOX_SECRET_ENV = "SHEETFOLLOW_INBOX_SECRET"
#: Fewer characters than this are no secret worth the name.
_MIN_SECRET = 16


def default_secret_path(config_path: Path | None) -> Path | None:
    """Where `inbox --init` keeps the team secret: `.sheetfollow/inbox.secret` beside
    sheetfollow.toml (None without a config file)."""
    return None if config_path is None else config_path.parent / ".sheetfollow" / "inbox.secret"


def team_secret(
    secret_file: str, config_path: Path | None, environ: Mapping[str, str]
) -> bytes | None:
    """The secret that signs the reply buttons: $SHEETFOLLOW_INBOX_SECRET, else the
    [inbox] secret_file, else the file `inbox --init` wrote; None when there is none."""
    value = environ.get(INBOX_SECRET_ENV, "").strip()
    if value:
        if len(value) < _MIN_SECRET:
            raise ConfigError(
                f"{INBOX_SECRET_ENV} is too short to be a secret (at least {_MIN_SECRET} "
                "characters; `sheetfollow inbox --init` makes one)"
            )
        return value.encode("utf-8")
    where = "inbox.secret_file"
    if config_path is not None:
        where = f"{config_path.name}: {where}"
    if secret_file:
        path = Path(secret_file)
        text = read_private_file(path, f"{where}: {path}").strip()
    else:
        default = default_secret_path(config_path)
        if default is None or not default.exists():
            return None
        text = read_private_file(default, f"the team secret {default}").strip()
        where = str(default)
    if len(text) < _MIN_SECRET:
        raise ConfigError(f"{where} holds no secret (at least {_MIN_SECRET} characters)")
    return text.encode("utf-8")


def create_team_secret(path: Path) -> bool:
    """Write a new random team secret to `path`, readable by its owner alone; False when
    the file exists already (it is kept: replacing it would void every button sent)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(secrets.token_hex(32) + "\n")
        out.flush()
        os.fsync(out.fileno())
    return True

"""Secrets kept in files: readable by their owner alone, or refused."""

from __future__ import annotations

import os
import stat
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

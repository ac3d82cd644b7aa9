"""Which files may ever be used as context or sent to a model.

The defaults (secret-looking names) can be extended by settings but never removed.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from pathlib import PurePath

# Names that look like secrets: never read as context, never sent anywhere.
SECRET_PATTERNS: tuple[str, ...] = (
    ".env", ".env.*", "*.env", ".envrc", "*.pem", "*.key", "*.p12", "*.pfx", "*.jks",
    "*.keystore", "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", "*.gpg", "*.asc",
    ".netrc", ".pgpass", ".npmrc", ".pypirc", "credentials", "credentials.*",
    "*credentials*.json", "secrets.*", "*.secret", "*.secrets", ".htpasswd",
    "service-account*.json", "*.kdbx", ".git-credentials",
)

# The project file listing more paths to keep away from models (gitignore syntax).
AI_IGNORE_FILE = ".aiignore"


def is_secret_path(path: str | PurePath, extra_patterns: Iterable[str] = ()) -> bool:
    name = PurePath(path).name
    lowered = name.lower()
    return any(
        fnmatch.fnmatchcase(lowered, pat.lower()) for pat in (*SECRET_PATTERNS, *extra_patterns)
    )

"""On-disk cache of generated derivative code.

Safety: the cache holds Python source that jacli generated and will compile, so it must
never become a way to run someone else's code.
- It lives in the user's own cache directory (``$JACLI_CACHE_DIR``, else
  ``$XDG_CACHE_HOME/jacli``, else ``~/.cache/jacli``), created with mode 0700; a
  directory owned by another user or writable by group/others is not used.
- Entries are written atomically (temp file + rename) and carry their key and a SHA-256
  digest of their content; an entry whose key or digest does not match, or that does not
  parse, is ignored and rebuilt.
- The key covers jacli's version, the model's fingerprint (names and expression texts),
  the operation and the variables, so any change to the model invalidates it.
``--no-cache`` (or ``JACLI_NO_CACHE=1``) bypasses the cache entirely.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile

from . import __version__

_DISABLED = [False]
_FORMAT = 1


def disable(flag: bool = True) -> None:
    """Turn the cache off (``--no-cache``) for this process."""
    _DISABLED[0] = flag


def enabled() -> bool:
    return not _DISABLED[0] and os.environ.get("JACLI_NO_CACHE", "") in ("", "0")


def directory() -> str:
    d = os.environ.get("JACLI_CACHE_DIR")
    if not d:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        d = os.path.join(base, "jacli")
    return d


def _safe_dir(create: bool) -> str | None:
    d = directory()
    try:
        if create:
            os.makedirs(d, mode=0o700, exist_ok=True)
        st = os.stat(d)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode):
        return None
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return None
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return None
    return d


def key(kind: str, fingerprint: str, wrt) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([_FORMAT, __version__, kind, fingerprint, list(wrt)]).encode())
    return h.hexdigest()


def _digest(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def load(k: str):
    """The entry stored under key ``k``, or None (missing, disabled, unsafe or corrupt)."""
    if not enabled():
        return None
    d = _safe_dir(create=False)
    if d is None:
        return None
    path = os.path.join(d, k + ".json")
    try:
        st = os.stat(path)
        if hasattr(os, "getuid") and st.st_uid != os.getuid():
            return None
        with open(path, encoding="utf-8") as fh:
            entry = json.load(fh)
        payload = entry["payload"]
        if entry.get("key") != k or payload.get("key") != k or entry.get("digest") != _digest(payload):
            return None
        if not isinstance(payload.get("source"), str) or not payload["source"].startswith("def "):
            return None
        return payload
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def store(k: str, **payload) -> None:
    """Store an entry atomically; failures are silent (the cache is an optimisation)."""
    if not enabled():
        return
    d = _safe_dir(create=True)
    if d is None:
        return
    payload = {"key": k, **payload}
    entry = {"key": k, "digest": _digest(payload), "payload": payload}
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=d)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(entry, fh)
            os.replace(tmp, os.path.join(d, k + ".json"))
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError:
        pass

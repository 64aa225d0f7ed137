"""ACM's private cache folder (``~/.cache/acm``): lark's grammar tables and the
parsed built-in rules.

Both save start-up time on every run after the first (the built-in rules are
some 40 rules: parsing them needs lark imported, the parser built and the text
lexed, about 50 ms of a 0.3 s ``acm analyze``). Both are pickles, and a pickle
runs code while it loads, so the folder must be the user's and writable by no
one else (made 0700 when ACM creates it) and a cache file must be the user's and
writable by no one else; otherwise no cache, silently. The parsed rules are
also read by an unpickler that refuses everything but the rule AST's own
classes, so even a planted file cannot run code; a file that fails to load is
parsed again and replaced.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import IO

from ...version import __version__
from . import ast


def cache_path(name: str) -> str | None:
    """Where cache file ``name`` may be kept: in the user's own cache folder, or None.

    None when the folder is not the user's alone, or the file there is not a
    regular file of the user's (a symlink, someone else's). A file of the user's
    that others could write is removed: it is made again.
    """
    if not hasattr(os, "getuid"):  # no owners to check (Windows): no cache
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "acm")
    path = os.path.join(folder, name)
    try:
        os.makedirs(base, exist_ok=True)
        try:
            os.mkdir(folder, mode=0o700)
            os.chmod(folder, 0o700)  # whatever the umask
        except FileExistsError:
            pass  # the user's own, or not: checked next
        if not owned_and_private(os.stat(folder)) or not os.access(folder, os.W_OK):
            return None
        try:
            found = os.lstat(path)
        except FileNotFoundError:
            return path
        if not stat.S_ISREG(found.st_mode) or found.st_uid != os.getuid():
            return None
        if found.st_mode & 0o022:  # ours, but others could have changed it: write a new one
            os.unlink(path)
    except OSError:
        return None
    return path


def owned_and_private(info: os.stat_result) -> bool:
    """Owned by this user and writable by no group or other user."""
    return info.st_uid == os.getuid() and not info.st_mode & 0o022


def seal(path: str) -> None:
    """Make a cache file just written (with the umask's mode) the user's alone."""
    try:
        found = os.lstat(path)
        if stat.S_ISREG(found.st_mode) and found.st_uid == os.getuid():
            os.chmod(path, 0o600)
    except OSError:
        pass  # no file written: nothing to protect


def cached_rules(text: str, path: str) -> ast.RuleFile:
    """The rule file ``text`` (named ``path`` in positions), parsed once per version.

    For the built-in rules, which every run loads: from the cache when a good
    file is there, else parsed (lark is imported only then) and stored.
    """
    key = _rules_key(text, path)
    where = cache_path(f"rules-{key}.pickle") if key is not None else None
    if where is not None:
        found = _read(where)
        if found is not None:
            return found
    from .parser import parse_rules  # lark and the grammar, only when the cache cannot answer

    parsed = parse_rules(text, path)
    if where is not None:
        _write(where, parsed)
    return parsed


def _rules_key(text: str, path: str) -> str | None:
    """What a parsed rule file depends on: its text and name, the grammar, the code that
    turns parse trees into the AST, the AST's classes, ACM's and Python's versions."""
    digest = hashlib.sha256(f"{__version__}\0{sys.version_info[:2]}\0{path}\0{text}".encode())
    here = Path(__file__).parent
    for source in (here / "parser.py", here / "ast.py",
                   resources.files("acm.grammars") / "acm.lark"):
        try:
            digest.update(source.read_bytes())
        except OSError:  # not on a file system (a zip): no key that could be stale
            return None
    return digest.hexdigest()[:16]


class _RuleFileUnpickler(pickle.Unpickler):
    """Loads the rule AST's own classes and nothing else (no functions, no modules)."""

    def find_class(self, module: str, name: str) -> type:
        found = getattr(ast, name, None) if module == ast.__name__ else None
        if isinstance(found, type) and found.__module__ == ast.__name__:
            return found
        raise pickle.UnpicklingError(f"{module}.{name} is not part of a rule file")


def _read(where: str) -> ast.RuleFile | None:
    """The rule file cached at ``where``, or None (missing, not private, damaged)."""
    try:
        fd = os.open(where, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as stream:
        info = os.fstat(stream.fileno())
        if not stat.S_ISREG(info.st_mode) or not owned_and_private(info):
            return None
        return _unpickle(stream)


def _unpickle(stream: IO[bytes]) -> ast.RuleFile | None:
    try:
        found = _RuleFileUnpickler(stream).load()
    except Exception:  # noqa: BLE001 - a truncated or foreign file fails in many ways: parse again
        return None
    return found if isinstance(found, ast.RuleFile) else None


def _write(where: str, rules: ast.RuleFile) -> None:
    """Store ``rules`` at ``where`` whole or not at all (a temporary file, then renamed),
    the user's alone; no cache when it cannot be written."""
    folder, name = os.path.split(where)
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{name}.", dir=folder)  # mode 0600
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as stream:
            pickle.dump(rules, stream, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, where)
    except Exception:  # noqa: BLE001 - a cache that cannot be written is no cache, not an error
        try:
            os.unlink(temporary)
        except OSError:
            pass

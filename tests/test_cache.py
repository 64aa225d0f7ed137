"""The caches in ~/.cache/acm: pickles, so used only where no one else can write.

The lark cache of the rule grammar: each test plants a cache file whose loading
is visible (unpickling it makes a folder, nothing more) at the path lark would
read, then builds the parser again and looks whether the folder appeared.

The parsed built-in rules: the same folder rules, and an unpickler that loads
nothing but the rule AST, so even a planted file in a private folder runs no code.
"""

from __future__ import annotations

import os
import pickle
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from acm.rules.dsl import cache, parser
from acm.rules.dsl.parser import parse_rules
from acm.rules.ruleset import BUILTIN_RULES, builtin_rule_file


class _Marker:
    """Unpickling this makes the folder ``path``: proof that lark loaded the file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.mkdir, (str(self.path),)


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """XDG_CACHE_HOME in tmp_path; the built parser is forgotten before and after."""
    home = tmp_path / "cache-home"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    parser._parser.cache_clear()
    yield home
    parser._parser.cache_clear()  # later tests build it again from the user's own cache


def plant(folder: Path, marker: Path, mode: int = 0o600) -> Path:
    """A cache file at the path the parser reads, which makes ``marker`` when loaded."""
    path = folder / parser._cache_name(parser._cache_identity())
    path.write_bytes(b"planted\n" + pickle.dumps(_Marker(marker)))
    path.chmod(mode)
    return path


def build_and_parse() -> None:
    parser._parser()
    assert parse_rules("", "empty.acm").rules == ()  # the parser works whatever happened


def test_a_private_cache_file_is_loaded(cache_home: Path, tmp_path: Path) -> None:
    """The control: in a 0700 folder, a 0600 file of the user's is what lark loads."""
    folder = cache_home / "acm"
    folder.mkdir(parents=True, mode=0o700)
    folder.chmod(0o700)
    plant(folder, tmp_path / "loaded")
    build_and_parse()
    assert (tmp_path / "loaded").is_dir()


def test_a_folder_others_can_write_is_not_used(cache_home: Path, tmp_path: Path) -> None:
    folder = cache_home / "acm"
    folder.mkdir(parents=True)
    folder.chmod(0o777)
    planted = plant(folder, tmp_path / "loaded")
    before = planted.read_bytes()
    assert cache.cache_path(parser._cache_name(parser._cache_identity())) is None
    build_and_parse()
    assert not (tmp_path / "loaded").exists()
    assert planted.read_bytes() == before  # nor written: no cache at all
    assert stat.S_IMODE(folder.stat().st_mode) == 0o777  # the user's folder is left as it is


def test_a_group_writable_folder_is_not_used(cache_home: Path, tmp_path: Path) -> None:
    folder = cache_home / "acm"
    folder.mkdir(parents=True)
    folder.chmod(0o770)
    plant(folder, tmp_path / "loaded")
    build_and_parse()
    assert not (tmp_path / "loaded").exists()


def test_a_new_folder_is_made_0700_whatever_the_umask(cache_home: Path) -> None:
    old = os.umask(0)
    try:
        path = cache.cache_path(parser._cache_name(parser._cache_identity()))
    finally:
        os.umask(old)
    assert isinstance(path, str) and Path(path).parent == cache_home / "acm"
    assert stat.S_IMODE((cache_home / "acm").stat().st_mode) == 0o700


def test_the_written_cache_file_is_0600_whatever_the_umask(cache_home: Path) -> None:
    old = os.umask(0)
    try:
        build_and_parse()
    finally:
        os.umask(old)
    written = list((cache_home / "acm").iterdir())
    assert len(written) == 1 and stat.S_IMODE(written[0].stat().st_mode) == 0o600


@pytest.mark.parametrize("mode", [0o620, 0o602], ids=["group", "other"])
def test_a_cache_file_others_can_write_is_not_loaded_but_replaced(
        cache_home: Path, tmp_path: Path, mode: int) -> None:
    folder = cache_home / "acm"
    folder.mkdir(parents=True, mode=0o700)
    folder.chmod(0o700)
    planted = plant(folder, tmp_path / "loaded", mode)
    build_and_parse()
    assert not (tmp_path / "loaded").exists()
    assert not planted.read_bytes().startswith(b"planted")  # a fresh cache in its place
    assert stat.S_IMODE(planted.stat().st_mode) == 0o600


def test_a_symlink_as_cache_file_is_not_followed(cache_home: Path, tmp_path: Path) -> None:
    folder = cache_home / "acm"
    folder.mkdir(parents=True, mode=0o700)
    folder.chmod(0o700)
    target = plant(tmp_path, tmp_path / "loaded")
    (folder / target.name).symlink_to(target)
    build_and_parse()
    assert not (tmp_path / "loaded").exists()


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0,
                    reason="giving a file to another user needs root")
def test_a_cache_file_of_another_user_is_not_loaded(cache_home: Path, tmp_path: Path) -> None:
    folder = cache_home / "acm"
    folder.mkdir(parents=True, mode=0o700)
    folder.chmod(0o700)
    planted = plant(folder, tmp_path / "loaded")
    os.chown(planted, 65534, 65534)
    build_and_parse()
    assert not (tmp_path / "loaded").exists()
    assert planted.stat().st_uid == 65534  # left alone, not replaced


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0,
                    reason="giving a folder to another user needs root")
def test_a_folder_of_another_user_is_not_used(cache_home: Path, tmp_path: Path) -> None:
    folder = cache_home / "acm"
    folder.mkdir(parents=True, mode=0o700)
    folder.chmod(0o700)
    plant(folder, tmp_path / "loaded")
    os.chown(folder, 65534, 65534)
    build_and_parse()
    assert not (tmp_path / "loaded").exists()


def test_rules_still_parse_with_the_cache(cache_home: Path) -> None:
    build_and_parse()
    parser._parser.cache_clear()
    build_and_parse()  # the second time from the cache file the first one wrote
    assert len(list((cache_home / "acm").iterdir())) == 1


# --------------------------------------------------------------------------- built-in rules


def rules_cache(home: Path) -> list[Path]:
    return sorted((home / "acm").glob("rules-*.pickle"))


def parsed_builtin_rules() -> object:
    from importlib import resources

    text = (resources.files("acm.data") / BUILTIN_RULES).read_text(encoding="utf-8")
    return parse_rules(text, f"<builtin>/{BUILTIN_RULES}")


def test_the_built_in_rules_are_parsed_once_then_read_from_the_cache(
        cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = builtin_rule_file()
    [stored] = rules_cache(cache_home)
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600

    def no_parsing(*args: object) -> None:
        raise AssertionError("parsed although the cache holds the rules")

    monkeypatch.setattr(parser, "parse_rules", no_parsing)
    again = builtin_rule_file()
    assert again == first
    assert len(again.rules) >= 10 and again.rules[0].pos.file.startswith("<builtin>/")


def test_cached_rules_equal_freshly_parsed_ones(cache_home: Path) -> None:
    builtin_rule_file()  # writes the cache
    assert builtin_rule_file() == parsed_builtin_rules()


def test_a_planted_rules_cache_runs_no_code_even_in_a_private_folder(
        cache_home: Path, tmp_path: Path) -> None:
    builtin_rule_file()
    [stored] = rules_cache(cache_home)
    stored.write_bytes(pickle.dumps(_Marker(tmp_path / "loaded")))
    assert builtin_rule_file() == parsed_builtin_rules()  # parsed again ...
    assert not (tmp_path / "loaded").exists()  # ... the planted file's code never ran
    assert b"mkdir" not in stored.read_bytes()  # and it is replaced by a good one


def test_a_damaged_rules_cache_is_parsed_again_and_replaced(cache_home: Path) -> None:
    builtin_rule_file()
    [stored] = rules_cache(cache_home)
    good = stored.read_bytes()
    stored.write_bytes(good[: len(good) // 2])  # as a full disk or a killed run leaves it
    assert builtin_rule_file() == parsed_builtin_rules()
    assert stored.read_bytes() == good


def test_a_rules_cache_others_can_write_is_not_loaded(cache_home: Path) -> None:
    builtin_rule_file()
    [stored] = rules_cache(cache_home)
    stored.chmod(0o666)
    stored_rules = pickle.loads(stored.read_bytes())
    assert builtin_rule_file() == stored_rules  # the same rules, parsed: see the mode
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600  # a fresh private file in its place


def test_no_cache_when_the_folder_cannot_be_used(cache_home: Path) -> None:
    cache_home.mkdir(parents=True)
    (cache_home / "acm").write_text("a file where the folder should be", encoding="utf-8")
    assert builtin_rule_file() == parsed_builtin_rules()  # no cache, no error


def test_a_cache_that_cannot_be_written_is_no_cache_and_leaves_nothing(
        cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def unpicklable(*args: object, **kwargs: object) -> None:
        raise TypeError("cannot pickle 'Token' object")  # as a new AST member might

    expected = parsed_builtin_rules()  # (lark's own table cache written before the fault)
    monkeypatch.setattr(pickle, "dump", unpicklable)  # (the module cache.py uses)
    assert builtin_rule_file() == expected
    left = [p.name for p in (cache_home / "acm").iterdir() if not p.name.startswith("grammar-")]
    assert left == []  # no rules cache, no temporary file

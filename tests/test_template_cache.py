"""The email templates as Jinja2 compiled them, kept in the user's cache folder: the first
run compiles and writes them, later runs read them. Whatever the cache holds (nothing, a
damaged file, code of an older template, a folder that cannot be written), the emails are
the golden files' bytes.

Real files in a cache folder of the test's own, and real processes for runs at once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jinja2
import pytest
from test_render import GOLDEN, GOLDEN_PROSPECTS, anna, computed, message_for

from sheetfollow.notify import render


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty cache folder of this test's own; the environment made afresh on first use,
    as in a new process, and again after the test for the tests that follow."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    render.environment.cache_clear()
    yield tmp_path / "cache" / "sheetfollow" / "templates"
    render.environment.cache_clear()


def owner_email() -> tuple[str, str]:
    message = message_for(computed(*GOLDEN_PROSPECTS), anna("nl"))
    return message.text, message.html


def golden() -> tuple[str, str]:
    return tuple(  # type: ignore[return-value]
        (GOLDEN / f"owner-nl.{suffix}").read_text(encoding="utf-8") for suffix in ("txt", "html")
    )


def new_process() -> None:
    render.environment.cache_clear()


def test_the_first_run_writes_the_compiled_templates_and_the_next_reads_them(
    cache: Path,
) -> None:
    assert owner_email() == golden()
    written = sorted(cache.glob("*.cache"))
    # owner.txt.j2, owner.html.j2 and the base.html.j2 it extends.
    assert len(written) == 3
    stamps = [(p, p.stat().st_mtime_ns, p.read_bytes()) for p in written]
    new_process()
    assert owner_email() == golden()
    # Read, not written again.
    assert [(p, p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(cache.glob("*.cache"))] == (
        stamps
    )
    assert not list(cache.glob("*.tmp"))


def test_what_the_cache_holds_is_what_renders(cache: Path) -> None:
    # Proof that a warm run uses the cached code: code compiled from another text, filed
    # under the real template's checksum, shows through.
    owner_email()
    env = render.environment()
    source, filename, _ = env.loader.get_source(env, "owner.txt.j2")  # type: ignore[union-attr]
    bytecode = env.bytecode_cache
    assert bytecode is not None
    bucket = bytecode.get_bucket(env, "owner.txt.j2", filename, source)
    bucket.code = env.compile("from the cache", "owner.txt.j2", filename)  # type: ignore[assignment]
    bytecode.set_bucket(bucket)
    new_process()
    assert owner_email()[0] == "from the cache"


def test_a_changed_template_is_compiled_again(tmp_path: Path, cache: Path) -> None:
    # The cache keeps each template's source checksum: an edited template (an upgrade, a
    # checkout of another version) is never answered with the old code.
    folder = tmp_path / "templates"
    folder.mkdir()
    page = folder / "page.txt.j2"

    def rendered() -> str:
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(folder))
        env.bytecode_cache = render._template_cache(env)
        return env.get_template("page.txt.j2").render(name="Anna")

    page.write_text("Hello {{ name }}", encoding="utf-8")
    assert rendered() == "Hello Anna"
    assert rendered() == "Hello Anna"  # from the cache
    page.write_text("Goedemorgen {{ name }}", encoding="utf-8")
    assert rendered() == "Goedemorgen Anna"


def test_other_settings_use_other_files(tmp_path: Path, cache: Path) -> None:
    # trim_blocks changes the compiled code of the same source: code compiled with other
    # settings (or by another Jinja2 release) is filed under another name.
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "page.txt.j2").write_text("{% if name %}\n{{ name }}{% endif %}", encoding="utf-8")

    def rendered(trim: bool) -> str:
        env = jinja2.Environment(loader=jinja2.FileSystemLoader(folder), trim_blocks=trim)
        env.bytecode_cache = render._template_cache(env)
        return env.get_template("page.txt.j2").render(name="Anna")

    assert rendered(trim=False) == "\nAnna"
    assert rendered(trim=True) == "Anna"
    assert rendered(trim=False) == "\nAnna"
    assert len(list(cache.glob("*.cache"))) == 2


@pytest.mark.parametrize(
    "damage",
    [b"", b"j2", b"not a cache file at all", "cut"],
    ids=["empty", "magic-only", "garbage", "cut-short"],
)
def test_a_damaged_cache_file_is_compiled_again_and_replaced(
    cache: Path, damage: bytes | str
) -> None:
    owner_email()
    files = sorted(cache.glob("*.cache"))
    good = {p: p.read_bytes() for p in files}
    for path, data in good.items():
        path.write_bytes(data[: len(data) // 2] if damage == "cut" else damage)  # type: ignore[arg-type]
    new_process()
    assert owner_email() == golden()
    assert {p: p.read_bytes() for p in files} == good


def test_a_cache_folder_that_cannot_be_made_costs_the_compiling_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    render.environment.cache_clear()
    try:
        assert render.environment().bytecode_cache is None
        assert owner_email() == golden()
    finally:
        render.environment.cache_clear()


def test_cache_files_that_cannot_be_written_cost_the_compiling_only(cache: Path) -> None:
    owner_email()
    # A folder where each file would go: neither read nor replaced (root may write into a
    # read-only folder, so that is no test of it).
    for path in cache.glob("*.cache"):
        path.unlink()
        path.mkdir()
    new_process()
    assert owner_email() == golden()
    assert all(p.is_dir() for p in cache.glob("*.cache"))
    assert not list(cache.glob("*.tmp"))


SCRIPT = """
from sheetfollow.notify import render
env = render.environment()
for name in env.list_templates():
    env.get_template(name)
print("ok")
"""


def test_runs_at_once_on_an_empty_cache_leave_whole_files(cache: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache.parents[1])}
    runs = [
        subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    assert [run.communicate()[0] for run in runs] == ["ok\n"] * 4
    assert [run.returncode for run in runs] == [0] * 4
    assert len(list(cache.glob("*.cache"))) == 5
    assert not list(cache.glob("*.tmp"))
    # Each file holds whole code for its template's source.
    env_ = render.environment()
    assert env_.bytecode_cache is not None
    for name in env_.list_templates():
        source, filename, _ = env_.loader.get_source(env_, name)  # type: ignore[union-attr]
        bucket = env_.bytecode_cache.get_bucket(env_, name, filename, source)
        assert bucket.code is not None, name

"""Fixtures shared by every test module."""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

# napari keeps its settings (and lesionview its reader-preference record beside them) in the
# user's config folder; tests must never change the user's napari, so they get a private one.
os.environ.setdefault("NAPARI_CONFIG", os.path.join(tempfile.mkdtemp(prefix="lesionview-napari-"),
                                                    "settings.yaml"))

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO_ROOT / ".." / "shared" / "data").resolve()


# ----------------------------------------------------------------------------- missing data and tools
def on_ci() -> bool:
    """True when env ``CI`` is set to anything but "", "0", "false" or "no" (CI services set it)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def need(condition: object, why: str) -> None:
    """Go on when ``condition`` holds; else skip saying ``why`` or, under CI, fail saying it.

    Every test that needs ``../shared/data``, the generated ``sample_data`` or an oracle tool
    (pyradiomics, dciodvfy, chromium, pdftoppm...) asks here, so a CI run that lacks one fails
    instead of passing on fewer tests. Works in a test, a fixture or at module level.
    """
    __tracebackhide__ = True   # a skip or failure is reported at the caller's line
    if condition:
        return
    if on_ci():
        pytest.fail(f"{why} [CI is set: what a test needs must be there, so this fails instead "
                    "of skipping]", pytrace=False)
    pytest.skip(why, allow_module_level=True)


def need_tool(*names: str, why: str) -> str:
    """The path of the first of ``names`` found on PATH, or :func:`need`'s skip/fail saying ``why``."""
    __tracebackhide__ = True   # a skip or failure is reported at the caller's line
    found = next((path for path in map(shutil.which, names) if path), None)
    need(found, why)
    return found


def need_module(name: str, why: str) -> ModuleType:
    """``import name``, or :func:`need`'s skip/fail saying ``why`` and the import error
    (like ``pytest.importorskip``, which never fails)."""
    __tracebackhide__ = True   # a skip or failure is reported at the caller's line
    try:
        return importlib.import_module(name)
    except ImportError as err:
        error = err
    need(False, f"{why} ({type(error).__name__}: {error})")   # outside the except: no chained traceback


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """At the end of the run, how many tests were skipped and why, most frequent reason first."""
    reasons: Counter[str] = Counter()
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reasons[reason.removeprefix("Skipped: ")] += 1
    if not reasons:
        return
    total = sum(reasons.values())
    terminalreporter.section(f"{total} skipped, by reason", sep="-")
    for reason, count in reasons.most_common():
        terminalreporter.write_line(f"{count:5d}  {reason}")
    if not on_ci():
        terminalreporter.write_line("(with env CI set, a skip for missing test data or tools fails)")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real, openly licensed test data that lives beside the repository (never copied in)."""
    need(SHARED_DATA.is_dir(), f"{SHARED_DATA} not found (real test data lives beside the repo)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def display():
    """A real display, checked before any QApplication exists (Qt aborts without one).

    GUI tests show a real napari viewer: Qt's offscreen platform has no OpenGL here and a hidden
    viewer renders black. Without a display they fail under CI (so a missing Xvfb never passes
    silently) and skip elsewhere, saying why.
    """
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    has_display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    need(has_display and platform != "offscreen",
         "GUI tests need a real display (no DISPLAY, or QT_QPA_PLATFORM=offscreen, which renders "
         'black here): run them under xvfb-run -a -s "-screen 0 1280x1024x24".')


@pytest.fixture
def viewer(display, make_napari_viewer):
    """A napari viewer shown on the (virtual) display."""
    return make_napari_viewer(show=True)


@pytest.fixture(autouse=True)
def _private_autosave_cache(tmp_path_factory, monkeypatch):
    """The napari plugin autosaves annotations; tests keep theirs out of the user's cache."""
    monkeypatch.setenv("LESIONVIEW_CACHE_DIR", str(tmp_path_factory.mktemp("lesionview-cache")))


@pytest.fixture
def napari_settings(tmp_path):
    """napari's settings with no reader preference and a settings folder of this test's own:
    nothing reaches the user's napari settings."""
    from napari.settings import get_settings

    settings = get_settings()
    # Set and restored by hand: monkeypatch would delete pydantic's private attribute on undo.
    saved = (dict(settings.plugins.extension2reader), list(settings.application.open_history),
             settings.config_path, settings._save_on_change)
    settings._save_on_change = False
    settings.config_path = tmp_path / "napari-settings" / "settings.yaml"
    settings.plugins.extension2reader = {}
    yield settings
    settings.plugins.extension2reader, settings.application.open_history = saved[:2]
    settings.config_path, settings._save_on_change = saved[2:]

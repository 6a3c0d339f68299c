"""Fixtures shared by every test module."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# napari keeps its settings (and lesionview its reader-preference record beside them) in the
# user's config folder; tests must never change the user's napari, so they get a private one.
os.environ.setdefault("NAPARI_CONFIG", os.path.join(tempfile.mkdtemp(prefix="lesionview-napari-"),
                                                    "settings.yaml"))

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO_ROOT / ".." / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real, openly licensed test data that lives beside the repository (never copied in)."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data not found (real test data lives beside the repo)")
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
    if not has_display or platform == "offscreen":
        why = ("GUI tests need a real display (no DISPLAY, or QT_QPA_PLATFORM=offscreen, which "
               'renders black here): run them under xvfb-run -a -s "-screen 0 1280x1024x24".')
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail(why)
        pytest.skip(why)


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

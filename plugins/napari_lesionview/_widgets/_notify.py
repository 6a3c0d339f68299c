"""The GUI boundary: a widget action that fails says so in a napari notification, never a traceback."""

from __future__ import annotations

import functools

from napari.utils.notifications import show_error


class UserFacingError(Exception):
    """Something the user can fix; shown as a napari notification."""


def reported(what: str):
    """Run a widget action; show any failure as a napari error notification, never a traceback.

    lesionview's own errors and :class:`UserFacingError` are shown as they are (they say what to
    do); anything else is shown as "<what> failed: ..." so a bug is still visible.
    """

    def wrap(method):
        @functools.wraps(method)
        def run(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except UserFacingError as exc:
                show_error(f"{what}: {exc}")
            except Exception as exc:  # noqa: BLE001 - the GUI boundary: say it, do not crash
                message = getattr(exc, "message", None)
                show_error(f"{what}: {message}" if message else f"{what} failed: {exc}")
            return None

        return run

    return wrap

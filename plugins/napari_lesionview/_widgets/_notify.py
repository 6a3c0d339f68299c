"""The GUI boundary: a widget action that fails says so in a napari notification, never a traceback."""

from __future__ import annotations

import functools
import inspect

from napari.utils.notifications import show_error


class UserFacingError(Exception):
    """Something the user can fix; shown as a napari notification."""


def _positional_limit(method) -> int | None:
    """How many positional arguments after ``self`` ``method`` takes (None: any number)."""
    params = list(inspect.signature(method).parameters.values())[1:]
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return None
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def reported(what: str):
    """Run a widget action; show any failure as a napari error notification, never a traceback.

    lesionview's own errors and :class:`UserFacingError` are shown as they are (they say what to
    do); anything else is shown as "<what> failed: ..." so a bug is still visible.

    Qt hands a slot its signal's arguments (``clicked(bool)``, ``toggled(bool)``): PyQt drops the
    ones a plain method cannot take, but it cannot see through this wrapper's ``*args``. So the
    wrapper drops them itself: positional arguments beyond what the method takes are ignored,
    as they would be if the method were connected undecorated.
    """

    def wrap(method):
        limit = _positional_limit(method)

        @functools.wraps(method)
        def run(self, *args, **kwargs):
            if limit is not None:
                args = args[:limit]
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

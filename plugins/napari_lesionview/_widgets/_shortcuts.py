"""Keyboard shortcuts of the lesionview widgets, bound on the viewer.

A widget class lists its shortcuts as ``(key, what it does, method name)``; :func:`register`
binds them on the widget's viewer (``viewer.bind_key``), so they work whichever layer is active,
and each key acts on the newest widget of that class still open on the viewer (the panel's and a
docked copy may both be open). The keys are ones napari binds to nothing by default
(tests/test_napari_segment.py checks them against napari's own); a key the user has bound on
the viewer already is left as it is, and said.
"""

from __future__ import annotations

import weakref

from napari.utils.key_bindings import coerce_keybinding
from napari.utils.notifications import show_warning

#: Live widgets by class, oldest first.
_LIVE: dict[type, list[weakref.ref]] = {}


def _alive(widget) -> bool:
    try:
        widget.objectName()  # raises once Qt has deleted the widget
    except RuntimeError:
        return False
    return True


def newest(cls: type, viewer):
    """The newest widget of class ``cls`` open on ``viewer``, or None."""
    live = _LIVE.setdefault(cls, [])
    live[:] = [ref for ref in live if ref() is not None and _alive(ref())]
    return next((w for ref in reversed(live) if (w := ref()).viewer is viewer), None)


def _action(cls: type, method: str, what: str):
    def run(viewer):
        widget = newest(cls, viewer)
        if widget is not None:
            getattr(widget, method)()

    run.__name__ = run.__qualname__ = f"lesionview_{method}"
    run.__doc__ = f"lesionview: {what}"
    run.lesionview = True  # ours: a second widget on the same viewer rebinds it
    return run


def register(widget, shortcuts) -> list[str]:
    """Note ``widget`` as the newest of its class and bind ``shortcuts`` on its viewer; returns
    the keys bound."""
    cls = type(widget)
    _LIVE.setdefault(cls, []).append(weakref.ref(widget))
    viewer = widget.viewer
    bound = []
    for key, what, method in shortcuts:
        current = viewer.keymap.get(coerce_keybinding(key))
        if current is not None and not getattr(current, "lesionview", False):
            show_warning(f"key {key} is already bound on this viewer; lesionview's shortcut "
                         f"({what}) is off")
            continue
        viewer.bind_key(key, _action(cls, method, what), overwrite=True)
        bound.append(key)
    return bound


def help_text(shortcuts) -> str:
    """The shortcuts as one line of rich text for a help label."""
    return "Keys: " + " · ".join(f"<b>{key}</b> {what}" for key, what, _ in shortcuts)

"""Errors that tell the user what was wrong, with which file, and what to do.

The rule every loader and writer keeps: **a file's content, or the place an output goes, can only
produce a** :class:`LesionviewError`. Anything else escaping is a bug in lesionview.
"""

from __future__ import annotations

import os
from os import PathLike


def shown_path(path: str | PathLike | bytes) -> str:
    """A path as text that can always be printed and stored in JSON.

    File names are bytes on POSIX; Python keeps undecodable bytes as lone surrogates
    (``surrogateescape``), which no UTF-8 writer accepts. They are shown as U+FFFD here.

    Examples
    --------
    >>> shown_path(os.fsdecode(b"scan-\\xff.nii.gz"))
    'scan-\\ufffd.nii.gz'
    """
    text = os.fsdecode(path) if isinstance(path, bytes) else os.fspath(path)
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


class LesionviewError(Exception):
    """Base class: ``path`` (which input), ``problem`` (what is wrong), ``hint`` (what to do)."""

    def __init__(self, problem: str, *, path: str | PathLike | None = None, hint: str | None = None):
        self.path = None if path is None else shown_path(path)
        self.problem = shown_path(problem)
        self.hint = None if hint is None else shown_path(hint)
        super().__init__(self.message)

    @property
    def message(self) -> str:
        where = f"{self.path}: " if self.path else ""
        todo = f" {self.hint}" if self.hint else ""
        return f"{where}{self.problem}{todo}"


class InputError(LesionviewError):
    """An input file or folder cannot be used as given."""


class OutputError(LesionviewError):
    """An output cannot be written where it was asked (not a folder, read-only, disk full...)."""


class GeometryMismatchError(LesionviewError):
    """Two arrays that must share a voxel grid do not."""

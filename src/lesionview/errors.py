"""Errors that tell the user what was wrong, with which file, and what to do."""

from __future__ import annotations

from os import PathLike


class LesionviewError(Exception):
    """Base class: ``path`` (which input), ``problem`` (what is wrong), ``hint`` (what to do)."""

    def __init__(self, problem: str, *, path: str | PathLike | None = None, hint: str | None = None):
        self.path = None if path is None else str(path)
        self.problem = problem
        self.hint = hint
        super().__init__(self.message)

    @property
    def message(self) -> str:
        where = f"{self.path}: " if self.path else ""
        todo = f" {self.hint}" if self.hint else ""
        return f"{where}{self.problem}{todo}"


class InputError(LesionviewError):
    """An input file or folder cannot be used as given."""


class GeometryMismatchError(LesionviewError):
    """Two arrays that must share a voxel grid do not."""

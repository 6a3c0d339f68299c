"""``lesionview info PATH``: what series are there, what they are, and what is wrong with them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import InputError, shown_path
from ..io.lean_imports import absent
from ..io.nifti_names import is_nifti
from ._common import console, user_errors


def info(
    path: Annotated[Path, typer.Argument(help="A DICOM folder, DICOM file, .zip of a folder, or NIfTI file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of a table.")] = False,
) -> None:
    """List the image series found under PATH: description, role guess, plane, size, spacing, problems."""
    with user_errors():
        rows, ignored, problems = _describe(path, quiet=as_json)
    if as_json:
        typer.echo(json.dumps({"path": shown_path(path), "series": rows, "ignored": ignored,
                               "problems": problems}, indent=2))
        return
    table = Table(title=f"{len(rows)} series in {escape(shown_path(path))}", title_justify="left")
    for col in ("#", "series", "description", "role", "plane", "size", "spacing (mm)", "problems"):
        table.add_column(col, overflow="fold")
    for k, r in enumerate(rows, 1):
        split = r["uid"].rpartition("#")[2] if "#" in r["uid"] else ""  # one UID split in stacks
        table.add_row(
            str(k), "" if r["series_number"] is None else str(r["series_number"]),
            escape(r["description"] or "") + (f" (stack {split})" if split else ""),
            r["role"], r["plane"], "x".join(map(str, r["shape"])),
            " x ".join(f"{s:.3g}" for s in r["spacing_mm"]),
            escape("\n".join(r["problems"])) or "[green]none[/]",
        )
    console.print(table)
    for p in problems:
        console.print(f"[yellow]problem:[/] {escape(p)}")
    if ignored:
        console.print(f"[dim]ignored {len(ignored)} file(s):[/]")
        for item in ignored[:20]:
            console.print(f"[dim]  {escape(item['path'])}: {escape(item['reason'])}[/]", highlight=False)
        if len(ignored) > 20:
            console.print(f"[dim]  ... and {len(ignored) - 20} more (see --json)[/]")


def _row(info, geometry, slice_axis, problems, uid: str | None = None) -> dict:
    """One series as JSON-safe values: every text printable (see :func:`shown_path`).

    ``uid`` names the stack (the SeriesInstanceUID, with ``#k`` when one UID was split): what
    ``load_volume(path, series=...)`` takes to choose it.
    """
    description = info.series_description or info.protocol_name
    return {
        "uid": _text(uid or info.series_uid),
        "series_number": info.series_number,
        "description": _text(description),
        "role": info.role.value,
        "role_reason": _text(info.role_reason),
        "plane": geometry.plane(slice_axis),
        "tilt_degrees": round(geometry.tilt_degrees(slice_axis), 2),
        "orientation": geometry.orientation,
        "shape": list(geometry.shape),
        "spacing_mm": [round(s, 4) for s in geometry.spacing],
        "series_uid": _text(info.series_uid),
        "contrast_agent": _text(info.contrast_agent),
        "problems": [shown_path(p) for p in problems],
    }


def _text(value):
    return shown_path(value) if isinstance(value, str) else value


def _describe(path: Path, *, quiet: bool) -> tuple[list[dict], list[dict], list[str]]:
    if not path.exists():
        raise InputError("does not exist.", path=path, hint="Check the path.")
    # Imported for the kind of input at hand, without what a listing never uses (see absent()):
    # nibabel without pydicom for NIfTI, pydicom without requests for DICOM.
    if path.is_file() and is_nifti(path):
        with absent("pydicom"):
            from ..io.nifti import read_nifti

        vol = read_nifti(path, first_volume_of_4d=True)
        return [_row(vol.info, vol.geometry, vol.slice_axis, vol.problems)], [], []
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with absent("requests"):
        from ..io.dicom import scan

    with Progress(TextColumn("reading headers"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True, disable=quiet) as bar:
        task = bar.add_task("scan", total=None)
        result = scan(path, progress=lambda done, total: bar.update(task, completed=done, total=total))
    series = result.require_series()
    rows = [_row(s.info, s.geometry, 0, s.problems, uid=s.uid) for s in series]
    ignored = [{"path": shown_path(i.path), "reason": shown_path(i.reason)} for i in result.ignored]
    return rows, ignored, [shown_path(p) for p in result.problems]

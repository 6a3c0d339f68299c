"""``lesionview measure``: lesion and edema numbers from masks, as JSON + CSV and a table.

``--out`` writes the JSON + CSV pair as a report set (:func:`lesionview.report.build.write_report`),
under the rules of ``lesionview report``: the pair is swapped in whole, and any report file
already in the folder belongs to the old set (refused, or replaced whole with ``--overwrite``).
"""

from __future__ import annotations

import hashlib
import os
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..cord import centerline_from_label
from ..errors import InputError, shown_path
from ..io import input_path, is_nifti, load_volume
from ..io.atomic import check_writable_folder
from ..measure import StudyMeasurements, measure
from ..measure.models import InputRecord
from ..measure.multiplicity import TWIN_GAP_MM
from ..measure.summary import possibly_extensive
from ..report.build import ReportResult, report_targets, write_report
from ..report.cells import length_cell, levels_cell, levels_sentence, plus_minus
from ._common import EXIT_PARTIAL, console, err_console, user_errors


class LevelsKind(StrEnum):
    auto = "auto"
    landmarks = "landmarks"
    sct_labeled = "sct-labeled"
    sct_discs = "sct-discs"
    sct_body = "sct-body"
    verse = "verse"
    totalsegmentator = "totalsegmentator"
    totalsegmentator_v1 = "totalsegmentator-v1"
    totalsegmentator_mr = "totalsegmentator-mr"


_EXISTING = {"exists": True, "dir_okay": True, "file_okay": True}


def measure_command(
    lesions: Annotated[Path, typer.Argument(help="Lesion mask (NIfTI, or a DICOM folder): binary or labels.",
                                            **_EXISTING)],
    image: Annotated[Path | None, typer.Option(help="T1 post-contrast image (DICOM folder, zip or NIfTI): "
                                               "masks must be in its space; gives the enhancement ratio.",
                                               **_EXISTING)] = None,
    edema: Annotated[Path | None, typer.Option(help="T2 edema mask.", **_EXISTING)] = None,
    cord: Annotated[Path | None, typer.Option(help="Spinal cord mask (e.g. SCT *_seg.nii.gz).",
                                              **_EXISTING)] = None,
    centerline: Annotated[Path | None, typer.Option(help="Cord centerline as a label image (e.g. SCT "
                                                    "*_centerline.nii.gz); else derived from --cord.",
                                                    **_EXISTING)] = None,
    levels: Annotated[Path | None, typer.Option(help="Vertebral levels: landmarks CSV/JSON or a label "
                                                "image (see --levels-kind).", **_EXISTING)] = None,
    levels_kind: Annotated[LevelsKind, typer.Option(help="How to read --levels (auto: CSV/JSON are "
                                                    "landmarks, images are SCT labelled cords).")
                           ] = LevelsKind.auto,
    out: Annotated[Path | None, typer.Option(help="Folder for measurements.json and measurements.csv (a "
                                             "report set: see lesionview report).")] = None,
    connectivity: Annotated[int, typer.Option(help="6, 18 or 26: neighbourhood of a lesion's voxels.")] = 26,
    mask_kind: Annotated[str, typer.Option("--mask-kind", help="auto, binary or labels.")] = "auto",
    twin_gap: Annotated[float, typer.Option(help="Largest edge-to-edge gap (mm) of an adjacent pair.")
                        ] = TWIN_GAP_MM,
    resample: Annotated[bool, typer.Option(help="Resample masks on another grid instead of refusing.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace the report files in --out (all of them, so "
                                            "none of an earlier run is left beside the new pair).")] = False,
) -> None:
    """Measure every lesion (volume, diameters, levels, occupancy...) and edema region of a study."""
    with user_errors():
        inputs = [p for p in (lesions, image, edema, cord, centerline, levels) if p]
        if out is not None:  # refused now, before the slow loading
            report_targets(out, PAIR, overwrite=overwrite, inputs=inputs)
            check_writable_folder(out)
        result = load_and_measure(lesions, image=image, edema=edema, cord=cord, centerline=centerline,
                                  levels=levels, levels_kind=levels_kind, connectivity=connectivity,
                                  mask_kind=mask_kind, twin_gap=twin_gap, resample=resample)["result"]
        _print(result)
        if out is None:
            return
        # Full input paths, as ever: the pair is the measurement record, not a report to hand on.
        done = write_report(result, out, formats=PAIR, deidentify=False, overwrite=overwrite, inputs=inputs)
    show_outcome(done)


#: What ``measure --out`` writes.
PAIR = ("json", "csv")


def show_outcome(done: ReportResult) -> None:
    """Print what writing a report set did: the files written, the old files removed (notes),
    and each format that failed; a partial set exits with :data:`EXIT_PARTIAL`.
    Shared by ``lesionview measure`` and ``lesionview report``."""
    for fmt, path in done.items():
        console.print(f"wrote {fmt:<4} {shown_path(path)}", markup=False, highlight=False)
    for line in done.removals():
        err_console.print(f"[yellow]note:[/] {escape(line)}", highlight=False, soft_wrap=True)
    if done.complete:
        return
    for line in done.failures():
        err_console.print(f"[bold red]error:[/] {escape(line)}", highlight=False, soft_wrap=True)
    err_console.print(f"[yellow]partial report:[/] {len(done)} of {len(done) + len(done.failed)} formats "
                      "written.", highlight=False)
    raise typer.Exit(EXIT_PARTIAL)


def load_and_measure(lesions: Path, *, image: Path | None = None, edema: Path | None = None,
                     cord: Path | None = None, centerline: Path | None = None, levels: Path | None = None,
                     levels_kind: LevelsKind = LevelsKind.auto, connectivity: int = 26,
                     mask_kind: str = "auto", twin_gap: float = TWIN_GAP_MM, resample: bool = False) -> dict:
    """Load the inputs of ``lesionview measure``/``report`` and measure them.

    Returns ``{"result": StudyMeasurements, "volumes": {role: Volume | None}, "levels": LevelModel | None}``.
    Shared by ``lesionview measure`` and ``lesionview report``.
    """
    if connectivity not in (6, 18, 26):
        raise InputError(f"--connectivity must be 6, 18 or 26, not {connectivity}.")
    if mask_kind not in ("auto", "binary", "labels"):
        raise InputError(f"--mask-kind must be auto, binary or labels, not {mask_kind!r}.")
    for p in (lesions, image, edema, cord, centerline, levels):
        if p is not None:
            input_path(p)  # a FIFO or device would block the hashing below: refused first
    lesion_vol = load_volume(lesions)
    image_vol = load_volume(image) if image else None
    if image_vol is not None and not resample and not lesion_vol.geometry.same_space(image_vol.geometry):
        raise InputError(
            f"the lesion mask {shown_path(lesions.name)} is not in this image's space: mask "
            f"{lesion_vol.geometry.describe()}; image {image_vol.geometry.describe()}.", path=image,
            hint="Save the mask on the image's grid, or pass --resample.")
    level_model = _levels(levels, levels_kind, lesion_vol.geometry) if levels else None
    records = [InputRecord(role=role, path=shown_path(p), sha256=_sha256(p))
               for role, p in (("lesions", lesions), ("image", image), ("edema", edema),
                               ("cord", cord), ("centerline", centerline), ("levels", levels)) if p]
    line = centerline_from_label(load_volume(centerline)) if centerline else None
    edema_vol = load_volume(edema) if edema else None
    cord_vol = load_volume(cord) if cord else None
    result = measure(lesion_vol, image=image_vol, edema=edema_vol, cord=cord_vol, levels=level_model,
                     centerline=line, connectivity=connectivity, mask_kind=mask_kind, twin_gap_mm=twin_gap,
                     resample=resample, inputs=records)
    volumes = {"lesions": lesion_vol, "image": image_vol, "edema": edema_vol, "cord": cord_vol}
    return {"result": result, "volumes": volumes, "levels": level_model}


def _unreadable(path: Path, exc: OSError) -> InputError:
    return InputError(f"cannot be read ({exc.strerror or exc}).", path=path,
                      hint="Check that it exists and that you may read it.")


def _levels(path: Path, kind: LevelsKind, geometry):
    from ..levels import LevelModel

    if kind is LevelsKind.auto:
        kind = LevelsKind.sct_labeled if (path.is_dir() or is_nifti(path)) else LevelsKind.landmarks
    if kind is LevelsKind.landmarks:
        model = LevelModel.from_file(path)
    else:
        vol = load_volume(path)
        build = {LevelsKind.sct_labeled: LevelModel.from_sct_labeled_cord,
                 LevelsKind.sct_discs: LevelModel.from_sct_disc_labels,
                 LevelsKind.sct_body: LevelModel.from_sct_body_labels,
                 LevelsKind.verse: LevelModel.from_verse,
                 LevelsKind.totalsegmentator: LevelModel.from_totalsegmentator,
                 LevelsKind.totalsegmentator_v1: partial(LevelModel.from_totalsegmentator, task="total_v1"),
                 LevelsKind.totalsegmentator_mr: partial(LevelModel.from_totalsegmentator,
                                                         task="vertebrae_mr")}[kind]
        try:
            model = build(vol)
        except InputError as exc:
            if exc.path is None:  # the reader said what is wrong; say which file it is
                raise InputError(exc.problem, path=path, hint=exc.hint) from exc
            raise
    model.check_inside(geometry)
    return model


def _sha256(path: Path) -> str:
    """Hash of a file, or of a folder's files in sorted order (names and bytes)."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        if path.is_dir():
            h.update(os.fsencode(f.relative_to(path)))
        try:
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
        except OSError as exc:
            raise _unreadable(f, exc) from exc
    return h.hexdigest()


def _print(result: StudyMeasurements) -> None:
    """The lesion and edema tables, the summary and the warnings.

    Across slices of 3 mm or more lying across the cord a length along it carries its uncertainty
    ("12.0 ± 3.0") and levels the level they may also reach ("C5 (C6?)", the summary's "C5 (possibly
    reaching C6)"): :mod:`lesionview.report.cells`, as napari's table.
    """
    table = Table(title="Enhancing lesions", title_justify="left", caption=_levels_caption(result.lesions),
                  caption_justify="left")
    for col in ("id", "levels", "volume mm³", "max diam mm", "IBSI mm", "axial mm", "CC mm",
                "occupancy", "enh. ratio", "edema"):
        table.add_column(col, justify="right")
    for les in result.lesions:
        table.add_row(str(les.id), levels_cell(les),
                      f"{les.volume_mm3:.1f}", f"{les.max_diameter_mm:.1f}", f"{les.max_diameter_ibsi_mm:.1f}",
                      f"{les.axial_long_mm:.1f} x {les.axial_short_mm:.1f}{plus_minus(les.axial_uncertainty_mm)}",
                      length_cell(les),
                      _opt(les.cord_occupancy, "{:.0%}"), _opt(les.enhancement_ratio, "{:.2f}"),
                      _opt(les.edema_id, "{}"))
    console.print(table)
    if result.edema:
        et = Table(title="T2 edema", title_justify="left", caption=_levels_caption(result.edema),
                   caption_justify="left")
        for col in ("id", "levels", "count", "extensive", "CC mm", "volume mm³", "lesions"):
            et.add_column(col, justify="right")
        for ed in result.edema:
            et.add_row(str(ed.id), levels_cell(ed),
                       _opt(ed.levels and ed.levels.count, "{}"), "possibly" if possibly_extensive(ed) else _opt(ed.longitudinally_extensive, "{}"),
                       length_cell(ed),
                       f"{ed.volume_mm3:.0f}", ", ".join(map(str, ed.lesion_ids)))
        console.print(et)
    console.print(f"[bold]{escape(shown_path(result.summary))}[/]")
    for w in result.warnings:
        console.print(f"[yellow]warning:[/] {escape(shown_path(w))}")


def _levels_caption(regions) -> str | None:
    """What "C5 (C6?)" means, under a table that shows one: its first such row spelt out."""
    for r in regions:
        cell = levels_cell(r)
        if r.levels is not None and cell != r.levels.label:
            return f"{cell}: {levels_sentence(r)}"
    return None


def _opt(value, fmt: str) -> str:
    return "" if value is None else fmt.format(value)

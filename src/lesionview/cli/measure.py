"""``lesionview measure``: lesion and edema numbers from masks, as JSON + CSV and a table.

``--out`` writes the JSON + CSV pair as a report set (:func:`lesionview.report.build.write_report`),
under the rules of ``lesionview report``: the pair is swapped in whole, and any report file
already in the folder belongs to the old set (refused, or replaced whole with ``--overwrite``).
"""

from __future__ import annotations

import hashlib
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ..cord import centerline_from_label
from ..errors import InputError, shown_path
from ..io import input_path, load_volume
from ..io.atomic import check_writable_folder
from ..levels.segments import segments_cell, segments_header
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
    spineps = "spineps"


_EXISTING = {"exists": True, "dir_okay": True, "file_okay": True}
#: Help of --lesion-segment, --edema-segment and --cord-segment (``measure`` and ``report``).
#: Cord segments from an image: "--spinal-levels", SCT's word for them, so that the option is not
#: read as one of the --*-segment options that choose segments of a DICOM SEG.
SPINAL_LEVELS_OPTION = typer.Option(
    "--spinal-levels", help="Spinal cord segments as a label image (value n = segment n, 2 = C2 ... 8 = C8, "
    "9 = T1: SCT rootlets or PAM50_spinal_levels); else estimated from --levels.", **_EXISTING)

SEGMENT_HELP = ("Which segments of a DICOM SEG {what} input to use: a segment number, a label (any case) or "
                "a code SCHEME:VALUE (e.g. SCT:108369006); repeat for several. Default: the only segment, else "
                "those whose code or label says {what}.")


def segment_option(what: str):
    """The typer option ``--{what}-segment`` (repeatable), shared by ``measure`` and ``report``."""
    return typer.Option(metavar="SEGMENT", help=SEGMENT_HELP.format(what=what))


def measure_command(
    lesions: Annotated[Path, typer.Argument(help="Lesion mask (NIfTI, DICOM SEG file, or a DICOM folder): "
                                            "binary or labels.", **_EXISTING)],
    image: Annotated[Path | None, typer.Option(help="T1 post-contrast image (DICOM folder, zip or NIfTI): "
                                               "masks must be on its voxels (in any axis order); gives the "
                                               "enhancement ratio.", **_EXISTING)] = None,
    edema: Annotated[Path | None, typer.Option(help="T2 edema mask (NIfTI or DICOM SEG).", **_EXISTING)] = None,
    cord: Annotated[Path | None, typer.Option(help="Spinal cord mask (e.g. SCT *_seg.nii.gz, or DICOM SEG).",
                                              **_EXISTING)] = None,
    centerline: Annotated[Path | None, typer.Option(help="Cord centerline as a label image (e.g. SCT "
                                                    "*_centerline.nii.gz); else derived from --cord.",
                                                    **_EXISTING)] = None,
    levels: Annotated[Path | None, typer.Option(help="Vertebral levels: landmarks CSV/JSON or a label "
                                                "image (see --levels-kind).", **_EXISTING)] = None,
    levels_kind: Annotated[LevelsKind, typer.Option(help="How to read --levels. auto: .csv, .json, .mrk.json and "
                                                    ".fcsv are landmarks; a label image is recognised from its "
                                                    "values and shape (SCT labelled cord, VerSe, SPINEPS, "
                                                    "TotalSegmentator...) and refused, naming the kinds it fits, "
                                                    "when it fits none or several.")
                           ] = LevelsKind.auto,
    segments: Annotated[Path | None, SPINAL_LEVELS_OPTION] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for measurements.json and measurements.csv (a "
                                             "report set: see lesionview report).")] = None,
    connectivity: Annotated[int, typer.Option(help="6, 18 or 26: neighbourhood of a lesion's voxels.")] = 26,
    mask_kind: Annotated[str, typer.Option("--mask-kind", help="auto, binary or labels.")] = "auto",
    twin_gap: Annotated[float, typer.Option(help="Largest edge-to-edge gap (mm) of an adjacent pair.")
                        ] = TWIN_GAP_MM,
    resample: Annotated[bool, typer.Option(help="Resample inputs on another voxel grid (masks nearest "
                                           "neighbour, the image linear) instead of refusing; a mask on the "
                                           "same voxels in another axis order needs none.")] = False,
    lesion_segment: Annotated[list[str] | None, segment_option("lesion")] = None,
    edema_segment: Annotated[list[str] | None, segment_option("edema")] = None,
    cord_segment: Annotated[list[str] | None, segment_option("cord")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace the report files in --out (all of them, so "
                                            "none of an earlier run is left beside the new pair).")] = False,
) -> None:
    """Measure every lesion (volume, diameters, levels, occupancy...) and edema region of a study."""
    with user_errors():
        inputs = [p for p in (lesions, image, edema, cord, centerline, levels, segments) if p]
        if out is not None:  # refused now, before the slow loading
            report_targets(out, PAIR, overwrite=overwrite, inputs=inputs)
            check_writable_folder(out)
        result = load_and_measure(lesions, image=image, edema=edema, cord=cord, centerline=centerline,
                                  levels=levels, levels_kind=levels_kind, connectivity=connectivity,
                                  mask_kind=mask_kind, twin_gap=twin_gap, resample=resample,
                                  segments=segments, lesion_segment=lesion_segment, edema_segment=edema_segment,
                                  cord_segment=cord_segment)["result"]
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
                     mask_kind: str = "auto", twin_gap: float = TWIN_GAP_MM, resample: bool = False,
                     segments: Path | None = None, lesion_segment: list[str] | None = None,
                     edema_segment: list[str] | None = None, cord_segment: list[str] | None = None) -> dict:
    """Load the inputs of ``lesionview measure``/``report`` and measure them.

    Masks may be DICOM SEG files (:func:`_load_masks`; ``*_segment`` choose their segments). A
    mask on the image's voxels stored in another axis order is permuted onto them by
    :func:`~lesionview.measure.measure` (recorded, with a note on stderr); only a mask on another
    grid needs ``resample``.

    Returns ``{"result": StudyMeasurements, "volumes": {role: Volume | None}, "levels": LevelModel | None}``.
    Shared by ``lesionview measure`` and ``lesionview report``.
    """
    if connectivity not in (6, 18, 26):
        raise InputError(f"--connectivity must be 6, 18 or 26, not {connectivity}.")
    if mask_kind not in ("auto", "binary", "labels"):
        raise InputError(f"--mask-kind must be auto, binary or labels, not {mask_kind!r}.")
    for p in (lesions, image, edema, cord, centerline, levels, segments):
        if p is not None:
            input_path(p)  # a FIFO or device would block the hashing below: refused first
    from ..io.seg import find_seg

    if image is not None and find_seg(image):
        raise InputError("is a DICOM SEG (a mask), not an image.", path=image,
                         hint="Give the series the SEG was drawn on as --image, and the SEG as LESIONS, "
                              "--edema or --cord.")
    image_vol = load_volume(image) if image else None
    masks, seg_records = _load_masks({"lesions": (lesions, lesion_segment), "edema": (edema, edema_segment),
                                      "cord": (cord, cord_segment)}, image_vol)
    lesion_vol = masks["lesions"]
    if image_vol is not None and not resample and not _same_voxels(lesion_vol.geometry, image_vol.geometry):
        raise InputError(
            f"the lesion mask {shown_path(lesions.name)} is not in this image's space (nor on its voxels in "
            f"another axis order): mask {lesion_vol.geometry.describe()}; image {image_vol.geometry.describe()}.",
            path=image, hint="Save the mask on the image's grid, or pass --resample.")
    level_model = _levels(levels, levels_kind, lesion_vol.geometry) if levels else None
    records = [InputRecord(role=role, path=shown_path(p), sha256=_sha256(p), **seg_records.get(role, {}))
               for role, p in (("lesions", lesions), ("image", image), ("edema", edema),
                               ("cord", cord), ("centerline", centerline), ("levels", levels),
                               ("segments", segments)) if p]
    line = centerline_from_label(load_volume(centerline)) if centerline else None
    edema_vol, cord_vol = masks["edema"], masks["cord"]
    result = measure(lesion_vol, image=image_vol, edema=edema_vol, cord=cord_vol, levels=level_model,
                     centerline=line, connectivity=connectivity, mask_kind=mask_kind, twin_gap_mm=twin_gap,
                     resample=resample, inputs=records, segments=load_volume(segments) if segments else None)
    _notes(result)
    volumes = {"lesions": lesion_vol, "image": image_vol, "edema": edema_vol, "cord": cord_vol}
    return {"result": result, "volumes": volumes, "levels": level_model}


_SEGMENT_OPTIONS = {"lesions": ("lesion", "--lesion-segment", "LESIONS"),
                    "edema": ("edema", "--edema-segment", "--edema"), "cord": ("cord", "--cord-segment", "--cord")}


def _load_masks(paths: dict, image) -> tuple[dict, dict]:
    """The masks by role from ``{role: (path or None, segment choice or None)}``, and the provenance
    of the DICOM SEGs among them (segments read, how their frames were placed).

    A SEG's frames are put on the image's grid, else on the grid of the first mask that is not a
    SEG, else on the lesion SEG's: the grid the study is measured on (see :func:`lesionview.io.seg.read_seg`).
    """
    from ..io.seg import find_seg, read_seg

    segs = {role: find_seg(p) if p else None for role, (p, _) in paths.items()}
    for role, (p, choice) in paths.items():
        if choice and not segs[role]:
            _, option, given = _SEGMENT_OPTIONS[role]
            raise InputError(f"{option} chooses segments of a DICOM SEG, and {given} is "
                             f"{'not one' if p else 'not given'}.", path=p,
                             hint=f"Give a DICOM SEG file as {given}, or leave {option} out.")
    volumes = {role: load_volume(p) for role, (p, _) in paths.items() if p and not segs[role]}
    reference = image.geometry if image is not None else next((v.geometry for v in volumes.values()), None)
    records = {}
    for role, (_, choice) in paths.items():
        if not segs[role]:
            continue
        got = read_seg(segs[role], segments=choice or None, role=_SEGMENT_OPTIONS[role][0], reference=reference)
        volumes[role], reference = got.volume, reference or got.volume.geometry
        records[role] = {"segments": got.descriptions()}
        if got.placed is not None:
            records[role] |= {"reoriented": got.reoriented, "original_grid": got.placed.source.describe()}
    return {role: volumes.get(role) for role in paths}, records


def _same_voxels(a, b) -> bool:
    """The same voxel grid, possibly stored in another axis order."""
    placed = a.grid_map(b)
    return a.same_space(b) or (placed is not None and placed.same_grid)


def _notes(result: StudyMeasurements) -> None:
    """A note on stderr for each input brought onto the measured grid (not a warning: nothing is
    lost by permuting axes; resampling was asked for)."""
    for rec in result.inputs:
        done = [rec.reoriented] if rec.reoriented else []
        if rec.resampled:
            done.append(f"resampled ({rec.resampled}) onto the grid measured on, as --resample allows")
        for line in done:
            err_console.print(f"[yellow]note:[/] {escape(rec.role)}: {escape(line)}", highlight=False,
                              soft_wrap=True)


def _unreadable(path: Path, exc: OSError) -> InputError:
    return InputError(f"cannot be read ({exc.strerror or exc}).", path=path,
                      hint="Check that it exists and that you may read it.")


def _levels(path: Path, kind: LevelsKind, geometry):
    """The level model of ``--levels``: landmarks by suffix, label images by kind or recognised
    (:func:`lesionview.levels.detect.read_levels`, which refuses rather than guess)."""
    from ..levels.detect import read_levels

    model = read_levels(path, kind.value)
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
    reaching C6)"): :mod:`lesionview.report.cells`, as napari's table. Each level column names its
    kind: "vertebral levels" and "cord segments (est.)" ("cord segments" from a segment label image).
    """
    enhancing = result.parameters.image_role == "T1+C"
    table = Table(title="Enhancing lesions" if enhancing else "Lesions", title_justify="left", caption=_levels_caption(result.lesions),
                  caption_justify="left")
    # Each level column names its kind: vertebral levels, cord segments ("(est.)" when estimated).
    segments = segments_header([r.cord_segments for r in [*result.lesions, *result.edema]])
    for col in ("id", "vertebral levels", segments, "volume mm³", "max diam mm", "IBSI mm", "axial mm", "CC mm",
                "occupancy", "enh. ratio", "edema"):
        table.add_column(col, justify="right")
    for les in result.lesions:
        table.add_row(str(les.id), levels_cell(les), segments_cell(les.cord_segments),
                      f"{les.volume_mm3:.1f}", f"{les.max_diameter_mm:.1f}", f"{les.max_diameter_ibsi_mm:.1f}",
                      f"{les.axial_long_mm:.1f} x {les.axial_short_mm:.1f}{plus_minus(les.axial_uncertainty_mm)}",
                      length_cell(les),
                      _opt(les.cord_occupancy, "{:.0%}"), _opt(les.enhancement_ratio, "{:.2f}"),
                      _opt(les.edema_id, "{}"))
    console.print(table)
    if result.edema:
        et = Table(title="T2 edema", title_justify="left", caption=_levels_caption(result.edema),
                   caption_justify="left")
        for col in ("id", "vertebral levels", segments, "count", "extensive", "CC mm", "volume mm³", "lesions"):
            et.add_column(col, justify="right")
        for ed in result.edema:
            et.add_row(str(ed.id), levels_cell(ed), segments_cell(ed.cord_segments),
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

"""``lesionview measure``: lesion and edema numbers from masks, as JSON + CSV and a table.

``--out`` writes the JSON + CSV pair as a report set (:func:`lesionview.report.build.write_report`),
under the rules of ``lesionview report``: the pair is swapped in whole, and any report file
already in the folder belongs to the old set (refused, or replaced whole with ``--overwrite``).
The inputs make a :class:`lesionview.study.Study` (:meth:`~lesionview.study.Study.from_paths`),
which is measured; the options and the printing are shared with ``report`` through :mod:`._shared`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..defaults import TWIN_GAP_MM
from ._common import user_errors
from ._shared import (
    EXISTING,
    SPINAL_LEVELS_OPTION,
    LevelsKind,
    measure_study,
    print_result,
    segment_option,
    show_outcome,
)


def measure_command(
    lesions: Annotated[Path, typer.Argument(help="Lesion mask (NIfTI, DICOM SEG file, or a DICOM folder): "
                                            "binary or labels.", **EXISTING)],
    image: Annotated[Path | None, typer.Option(help="T1 post-contrast image (DICOM folder, zip or NIfTI): "
                                               "masks must be on its voxels (in any axis order); gives the "
                                               "enhancement ratio.", **EXISTING)] = None,
    edema: Annotated[Path | None, typer.Option(help="T2 edema mask (NIfTI or DICOM SEG).", **EXISTING)] = None,
    cord: Annotated[Path | None, typer.Option(help="Spinal cord mask (e.g. SCT *_seg.nii.gz, or DICOM SEG).",
                                              **EXISTING)] = None,
    centerline: Annotated[Path | None, typer.Option(help="Cord centerline as a label image (e.g. SCT "
                                                    "*_centerline.nii.gz); else derived from --cord.",
                                                    **EXISTING)] = None,
    levels: Annotated[Path | None, typer.Option(help="Vertebral levels: landmarks CSV/JSON or a label "
                                                "image (see --levels-kind).", **EXISTING)] = None,
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
    from ..io.atomic import check_writable_folder
    from ..report.build import report_targets, write_report

    with user_errors():
        inputs = [p for p in (lesions, image, edema, cord, centerline, levels, segments) if p]
        if out is not None:  # refused now, before the slow loading
            report_targets(out, PAIR, overwrite=overwrite, inputs=inputs)
            check_writable_folder(out)
        _, result = load_and_measure(lesions, image=image, edema=edema, cord=cord, centerline=centerline,
                                     levels=levels, levels_kind=levels_kind, connectivity=connectivity,
                                     mask_kind=mask_kind, twin_gap=twin_gap, resample=resample,
                                     segments=segments, lesion_segment=lesion_segment, edema_segment=edema_segment,
                                     cord_segment=cord_segment)
        print_result(result)
        if out is None:
            return
        # Full input paths, as ever: the pair is the measurement record, not a report to hand on.
        done = write_report(result, out, formats=PAIR, deidentify=False, overwrite=overwrite, inputs=inputs)
    show_outcome(done)


#: What ``measure --out`` writes.
PAIR = ("json", "csv")


def load_and_measure(lesions: Path, **options):
    """The study of ``lesionview measure``'s inputs and its measurements: ``(Study, StudyMeasurements)``
    (:func:`._shared.measure_study`, which takes the command's options by name)."""
    return measure_study(lesions, **options)

"""``lesionview report``: measure a study and write JSON, CSV, HTML, PDF, DICOM SEG and SR.

Takes the inputs of ``lesionview measure``, makes their :class:`lesionview.study.Study` and measures
it (:func:`._shared.measure_study`, shared with ``measure``), then hands the result to :func:`lesionview.report.build.write_report`. Exit codes: 0 every format written;
2 bad input, or an output folder that cannot take the set (nothing replaced); 3 a partial set,
each format that failed named on stderr with why. Old report files removed and not replaced
(``--overwrite`` replaces the whole old set) are named in notes on stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ..defaults import REPORT_FORMATS, TWIN_GAP_MM
from ..errors import shown_path
from ._common import err_console, user_errors
from ._shared import (
    EXISTING,
    SPINAL_LEVELS_OPTION,
    LevelsKind,
    measure_study,
    print_result,
    segment_option,
    show_outcome,
)


def report_command(
    lesions: Annotated[Path, typer.Argument(help="Lesion mask (NIfTI, DICOM SEG file, or a DICOM folder): "
                                            "binary or labels.", **EXISTING)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (created if missing; never inside "
                                      "an input folder).")],
    image: Annotated[Path | None, typer.Option(help="The image the masks were drawn on (DICOM folder, zip "
                                               "or NIfTI), usually T1 post-contrast: key images, study "
                                               "identifiers, and the source of DICOM SEG/SR.",
                                               **EXISTING)] = None,
    edema: Annotated[Path | None, typer.Option(help="T2 edema mask (NIfTI or DICOM SEG).", **EXISTING)] = None,
    cord: Annotated[Path | None, typer.Option(help="Spinal cord mask (NIfTI or DICOM SEG).", **EXISTING)] = None,
    centerline: Annotated[Path | None, typer.Option(help="Cord centerline label image; else derived "
                                                    "from --cord.", **EXISTING)] = None,
    levels: Annotated[Path | None, typer.Option(help="Vertebral levels: landmarks CSV/JSON or a label "
                                                "image (see --levels-kind).", **EXISTING)] = None,
    levels_kind: Annotated[LevelsKind, typer.Option(help="How to read --levels.")] = LevelsKind.auto,
    segments: Annotated[Path | None, SPINAL_LEVELS_OPTION] = None,
    format: Annotated[str | None, typer.Option(
        "--format", "-f", help=f"Comma-separated formats among {','.join(REPORT_FORMATS)} (default: every format "
        "the inputs allow; seg and sr need a DICOM --image).")] = None,
    identified: Annotated[bool, typer.Option(help="Include patient name, ID and birth date (default: "
                                             "de-identified).")] = False,
    connectivity: Annotated[int, typer.Option(help="6, 18 or 26: neighbourhood of a lesion's voxels.")] = 26,
    mask_kind: Annotated[str, typer.Option("--mask-kind", help="auto, binary or labels.")] = "auto",
    twin_gap: Annotated[float, typer.Option(help="Largest edge-to-edge gap (mm) of an adjacent pair.")
                        ] = TWIN_GAP_MM,
    resample: Annotated[bool, typer.Option(help="Resample inputs on another voxel grid instead of refusing "
                                           "(not for seg/sr: those need the image's grid); a mask on the same "
                                           "voxels in another axis order needs none.")] = False,
    lesion_segment: Annotated[list[str] | None, segment_option("lesion")] = None,
    edema_segment: Annotated[list[str] | None, segment_option("edema")] = None,
    cord_segment: Annotated[list[str] | None, segment_option("cord")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace the report files in --out: all of them, so "
                                            "none of an earlier run is left beside the new set.")] = False,
) -> None:
    """Write the report of a study: JSON, CSV, HTML and PDF (key images), DICOM SEG and SR."""
    from ..io.atomic import check_writable_folder
    from ..report.build import DICOM_FORMATS, available_formats, parse_formats, report_targets

    with user_errors():
        inputs = [p for p in (lesions, image, edema, cord, centerline, levels, segments) if p]
        # Refuse a bad --format or a taken output folder before the (slow) loading.
        asked = parse_formats(format, None) if format else None
        report_targets(out, asked or available_formats(None), overwrite=overwrite, inputs=inputs)
        check_writable_folder(out)
        study, result = measure_study(lesions, image=image, edema=edema, cord=cord, centerline=centerline,
                                      levels=levels, levels_kind=levels_kind, connectivity=connectivity,
                                      mask_kind=mask_kind, twin_gap=twin_gap, resample=resample,
                                      lesion_segment=lesion_segment, edema_segment=edema_segment,
                                      cord_segment=cord_segment, segments=segments)
        allowed = available_formats(study.reference_image)
        if asked is None:
            formats = allowed
            skipped = [f for f in DICOM_FORMATS if f not in allowed]
            if skipped:
                why = "no --image was given" if image is None else f"{escape(shown_path(image))} is not DICOM"
                err_console.print(f"[yellow]note:[/] DICOM SEG and SR not written: {why}; they annotate the "
                                  "source DICOM images (pass the DICOM series as --image).", highlight=False)
        else:
            formats = asked          # seg/sr without DICOM: write_report raises (exit 2)
        print_result(result)
        done = study.report(out, result=result, formats=formats, deidentify=not identified,
                            overwrite=overwrite, inputs=inputs)
    show_outcome(done)


__all__ = ["report_command"]

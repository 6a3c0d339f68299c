"""Write a measurement in every format people read it in, into one folder: the report API.

    >>> paths = write_report(result, "out/", image=t1c, lesions=lesion_vol, edema=edema_vol,
    ...                      cord=cord_vol, levels=level_model)          # doctest: +SKIP
    >>> paths["html"]                                                    # doctest: +SKIP
    PosixPath('out/report.html')

Every file is written atomically (temporary file, then rename). Nothing is written unless every
target is free (or ``overwrite``), so a refused run leaves the folder as it was. Reports are
de-identified by default: no patient name, ID or birth date, and input paths reduced to their
file names (a folder name often is the patient's name).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

from ..errors import InputError
from ..measure.models import StudyMeasurements
from ..volume import Volume
from .html import DEIDENTIFIED_BY_DEFAULT


class ReportError(InputError):
    """A report format cannot be made from these inputs or on this machine (what, and what to do)."""


#: Every format, in the order they are written (the SR references the SEG; the PDF prints the HTML).
FORMATS = ("json", "csv", "seg", "sr", "html", "pdf")
#: Formats that annotate the source DICOM images and cannot exist without them.
DICOM_FORMATS = ("seg", "sr")
FILENAMES = {
    "json": "measurements.json",
    "csv": "measurements.csv",
    "html": "report.html",
    "pdf": "report.pdf",
    "seg": "segmentation.dcm",
    "sr": "measurements-sr.dcm",
}


def is_dicom_image(image: Volume | None) -> bool:
    """True when ``image`` was loaded from DICOM files (so a SEG and an SR can reference them)."""
    if image is None or not image.info.series_uid or not image.info.source:
        return False
    from ..io.nifti import is_nifti

    return not is_nifti(Path(image.info.source))


def available_formats(image: Volume | None) -> tuple[str, ...]:
    """The formats these inputs allow: all of them for a DICOM image, no SEG/SR otherwise."""
    return FORMATS if is_dicom_image(image) else tuple(f for f in FORMATS if f not in DICOM_FORMATS)


def parse_formats(text: str | Iterable[str] | None, image: Volume | None) -> tuple[str, ...]:
    """Normalise ``"json,csv,html"`` (or a list) to known formats in writing order.

    ``None`` or ``"all"`` means :func:`available_formats`. ``sr`` brings ``seg`` with it: the SR's
    measurements reference the segments of a SEG, which must be stored beside it.
    """
    if text is None:
        return available_formats(image)
    items = [t.strip().lower() for t in (text.split(",") if isinstance(text, str) else text)]
    items = [t for t in items if t]
    if not items or items == ["all"]:
        return available_formats(image)
    unknown = [t for t in items if t not in FORMATS]
    if unknown:
        raise InputError(f"unknown report format(s) {', '.join(unknown)}; choose from {', '.join(FORMATS)}.")
    if "sr" in items:
        items.append("seg")
    return tuple(f for f in FORMATS if f in items)


def deidentified(result: StudyMeasurements) -> StudyMeasurements:
    """The same result with input paths reduced to their file names (hashes kept)."""
    inputs = [i.model_copy(update={"path": Path(i.path).name if i.path else i.path}) for i in result.inputs]
    params = result.parameters
    if params.level_source and (os.sep in params.level_source or "/" in params.level_source):
        params = params.model_copy(update={"level_source": Path(params.level_source).name})
    return result.model_copy(update={"inputs": inputs, "parameters": params})


def report_targets(out_dir: str | os.PathLike, formats: Iterable[str], *, overwrite: bool = False,
                   inputs: Iterable[str | os.PathLike] = ()) -> dict[str, Path]:
    """Where each format goes; refuses an output folder inside an input folder, or taken files.

    Raises
    ------
    InputError
        ``out_dir`` is a file, lies inside one of the ``inputs`` folders (inputs are never
        written to), or already holds a target and ``overwrite`` is false.
    """
    out = Path(out_dir).resolve()
    if out.exists() and not out.is_dir():
        raise InputError("is a file; the report output names a folder.", path=out,
                         hint="Choose a folder (it is created if missing).")
    for p in inputs:
        p = Path(p).resolve()
        folder = p if p.is_dir() else None
        if folder is not None and (out == folder or folder in out.parents):
            raise InputError("the output folder is inside an input folder; inputs are never written to.",
                             path=out, hint="Choose an output folder elsewhere.")
    targets = {f: out / FILENAMES[f] for f in formats}
    taken = [t.name for t in targets.values() if t.exists()]
    if taken and not overwrite:
        raise InputError(f"already holds {', '.join(taken)}.", path=out,
                         hint="Pass --overwrite to replace them, or choose another output folder.")
    return targets


def write_report(result: StudyMeasurements, out_dir: str | os.PathLike, *,
                 formats: str | Iterable[str] | None = None,
                 image: Volume | None = None, lesions: Volume | None = None,
                 edema: Volume | None = None, cord: Volume | None = None, levels=None,
                 images: bool = True, deidentify: bool = DEIDENTIFIED_BY_DEFAULT,
                 overwrite: bool = False, inputs: Iterable[str | os.PathLike] = (),
                 timings: dict[str, float] | None = None) -> dict[str, Path]:
    """Write ``result`` in the chosen formats into ``out_dir``; return ``{format: path written}``.

    Parameters
    ----------
    result : StudyMeasurements
        What :func:`lesionview.measure.measure` returned.
    out_dir : path
        Output folder, created if missing. Files: :data:`FILENAMES`.
    formats : "json,csv,html,pdf,seg,sr", list, "all" or None
        None/"all": every format the inputs allow (:func:`available_formats`). Asking for
        ``seg``/``sr`` without a DICOM ``image`` raises :class:`ReportError`.
    image : Volume, optional
        The image measured on: study/series identifiers, key images, and the DICOM source of
        SEG and SR (when loaded from DICOM).
    lesions, edema, cord : Volume, optional
        The masks of ``result`` (lesions: binary or labels), on ``image``'s grid for SEG.
        ``lesions`` (with ``image``) is needed for key images.
    levels : LevelModel, optional
        Landmark names on the sagittal key images.
    images : bool
        Put key images in the HTML/PDF (the levels diagram needs only ``result``).
    deidentify : bool
        Default True: no patient name, ID or birth date anywhere (SEG/SR: "ANONYMOUS"), input
        paths reduced to file names. False puts the identifiers in the HTML/PDF header too.
    overwrite : bool
        Replace existing files; otherwise any existing target refuses the whole run.
    inputs : paths
        Input files/folders; the output folder may not lie inside any of them. ``image``'s own
        source folder is always protected.
    timings : dict, optional
        Filled with seconds spent per format; the pictures and template count for the HTML
        (for the PDF when no HTML is written).

    Returns
    -------
    dict
        ``{format: Path}`` of the files written, in writing order.
    """
    fmts = parse_formats(formats, image)
    bad = [f for f in fmts if f in DICOM_FORMATS]
    if bad and not is_dicom_image(image):
        raise ReportError(
            f"{' and '.join(b.upper() for b in bad)} need the source DICOM images, but the image is "
            + ("not given" if image is None else "not DICOM (NIfTI has no study/series UIDs to reference)") + ".",
            hint="Pass the DICOM series as the image, or leave seg/sr out of the formats.")
    if bad and lesions is None:
        raise ReportError("a DICOM SEG needs the lesion mask.", hint="Pass lesions=... (CLI: the LESIONS argument).")
    protect = [*inputs]
    if image is not None and image.info.source:
        protect.append(image.info.source)
    targets = report_targets(out_dir, fmts, overwrite=overwrite, inputs=protect)
    shown = deidentified(result) if deidentify else result
    clock = timings if timings is not None else {}
    written: dict[str, Path] = {}

    def timed(fmt, fn):
        t0 = time.perf_counter()
        written[fmt] = fn()
        clock[fmt] = time.perf_counter() - t0

    if "json" in targets:
        from .tabular import write_json

        timed("json", lambda: write_json(shown, targets["json"]))
    if "csv" in targets:
        from .tabular import write_csv

        timed("csv", lambda: write_csv(shown, targets["csv"]))
    if "seg" in targets:
        timed("seg", lambda: _write_seg(shown, targets["seg"], image=image, lesions=lesions, edema=edema,
                                        cord=cord, deidentify=deidentify))
    if "sr" in targets:
        timed("sr", lambda: _write_sr(shown, targets["sr"], seg=targets["seg"], image=image, deidentify=deidentify))
    if "html" in targets or "pdf" in targets:
        from .html import render_html, write_html
        from .images import key_images, levels_diagram

        t0 = time.perf_counter()
        pictures = (key_images(result, image, lesions, edema_mask=edema, levels=levels)
                    if images and image is not None and lesions is not None else [])
        diagram = levels_diagram(result)
        page = render_html(shown, images=pictures, diagram=diagram, series=image.info if is_dicom_image(image)
                           else None, identified=not deidentify)
        page_s = time.perf_counter() - t0        # pictures + template: shared by HTML and PDF
        if "html" in targets:
            timed("html", lambda: write_html(page, targets["html"]))
            clock["html"] += page_s
        if "pdf" in targets:
            from .pdf import write_pdf

            timed("pdf", lambda: write_pdf(page, targets["pdf"]))
            if "html" not in targets:
                clock["pdf"] += page_s
    return written


# --------------------------------------------------------------------------- DICOM (SEG + SR)
# The writers live in dicom_seg.py / dicom_sr.py (highdicom); this is the only place calling them.
def _write_seg(result, path, *, image, lesions, edema, cord, deidentify) -> Path:
    from .dicom_seg import write_seg

    masks = {k: v for k, v in (("lesion", lesions), ("edema", edema), ("cord", cord)) if v is not None}
    return write_seg(image, masks, path, result=result, deidentify=deidentify,
                     connectivity=result.parameters.connectivity, mask_kind=result.parameters.mask_kind)


def _write_sr(result, path, *, seg, image, deidentify) -> Path:
    from .dicom_sr import write_sr

    return write_sr(result, seg, image, path, deidentify=deidentify)

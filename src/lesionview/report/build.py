"""Write a measurement in every format people read it in, into one folder: the report API.

    >>> done = write_report(result, "out/", image=t1c, lesions=lesion_vol, edema=edema_vol,
    ...                     cord=cord_vol, levels=level_model)          # doctest: +SKIP
    >>> done["html"], done.failed                                        # doctest: +SKIP
    (PosixPath('out/report.html'), {})

Every report file already in the folder (:func:`report_files`) belongs to one old set: without
``overwrite`` any of them refuses the run; with it, the whole old set goes, whichever formats
are asked for now, so the folder only ever holds the files of one run. The new set is written
into a hidden staging folder and swapped in whole (:mod:`lesionview.report.staging`): an
interrupted run or a full disk leaves the old set as it was. One format failing (highdicom
refusing the source, WeasyPrint, a picture) does not cost the others: it is named in
:attr:`ReportResult.failed` with the reason. Reports are de-identified by default: no patient
name, ID or birth date, and input paths reduced to their file names (a folder name often is the
patient's name).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..defaults import REPORT_FORMATS as FORMATS
from ..errors import InputError, LesionviewError, OutputError, shown_path
from ..measure.models import StudyMeasurements
from ..volume import Volume
from .html import DEIDENTIFIED_BY_DEFAULT
from .staging import Staging, is_output_failure, os_cause, set_error
from .tabular import printable

logger = logging.getLogger(__name__)


class ReportError(InputError):
    """A report format cannot be made from these inputs or on this machine (what, and what to do)."""


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


@dataclass(frozen=True)
class ReportResult(Mapping[str, Path]):
    """What :func:`write_report` did: a mapping ``{format: path written}``, and what failed.

    Attributes
    ----------
    written : dict
        ``{format: Path}`` of the files now in the output folder, in writing order (the mapping
        itself: ``result["html"]``, ``result.items()``).
    failed : dict
        ``{format: one-line reason}`` of the formats asked for and not written.
    removed : dict
        ``{format: Path}``: old report files deleted and not replaced by a new one (formats that
        failed, or that were not asked for this time), so that the folder never holds files of
        two runs side by side.

    Examples
    --------
    >>> done = ReportResult({"json": Path("out/measurements.json")}, failed={"pdf": "no Pango"})
    >>> done.complete, list(done), done.problems()
    (False, ['json'], ['pdf (report.pdf) not written: no Pango'])
    """

    written: dict[str, Path]
    failed: dict[str, str] = field(default_factory=dict)
    removed: dict[str, Path] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """True when every format asked for was written."""
        return not self.failed

    def failures(self) -> list[str]:
        """One line per failed format: "pdf (report.pdf) not written: why"."""
        return [f"{fmt} ({FILENAMES[fmt]}) not written: {why}" for fmt, why in self.failed.items()]

    def removals(self) -> list[str]:
        """A line for the old files removed and not replaced, by why (at most two lines)."""
        failed = [p.name for f, p in self.removed.items() if f in self.failed]
        unwritten = [p.name for f, p in self.removed.items() if f not in self.failed]
        lines = []
        if failed:
            lines.append(f"removed the old {', '.join(failed)}: the new version failed, and an old file "
                         "would have stood beside the files of this run")
        if unwritten:
            lines.append(f"removed the old {', '.join(unwritten)} of an earlier run: this run did not "
                         "write them, and they would have stood beside its files")
        return lines

    def problems(self) -> list[str]:
        """:meth:`failures` then :meth:`removals`: what a caller shows the user."""
        return self.failures() + self.removals()

    def __getitem__(self, fmt: str) -> Path:
        return self.written[fmt]

    def __iter__(self) -> Iterator[str]:
        return iter(self.written)

    def __len__(self) -> int:
        return len(self.written)


def is_dicom_image(image: Volume | None) -> bool:
    """True when ``image`` was loaded from DICOM files with a SeriesInstanceUID (so a SEG and an
    SR can reference them)."""
    return _read_from_dicom(image) and bool(image.info.series_uid)


def _read_from_dicom(image: Volume | None) -> bool:
    """True when ``image`` was read from DICOM files (not NIfTI, not made in memory)."""
    if image is None or not image.info.source:
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


def report_files(out_dir: str | os.PathLike) -> dict[str, Path]:
    """The report files in ``out_dir`` now, ``{format: path}``: one old set, whatever wrote them.

    Every file named in :data:`FILENAMES` counts (a link too); a folder of such a name does not.

    Examples
    --------
    >>> report_files("a/folder/that/does/not/exist")
    {}
    """
    out = Path(out_dir)
    paths = {fmt: out / FILENAMES[fmt] for fmt in FORMATS}
    return {fmt: p for fmt, p in paths.items() if os.path.lexists(p) and not p.is_dir()}


def report_targets(out_dir: str | os.PathLike, formats: Iterable[str], *, overwrite: bool = False,
                   inputs: Iterable[str | os.PathLike] = ()) -> dict[str, Path]:
    """Where each format goes; refuses an output folder inside an input folder, or an old set.

    Any report file already in ``out_dir`` (:func:`report_files`), of the formats asked for or
    not, belongs to an earlier set: it refuses the run unless ``overwrite``, and with it the
    whole old set is replaced (:func:`write_report`).

    Raises
    ------
    InputError
        ``out_dir`` is a file, lies inside one of the ``inputs`` folders (inputs are never
        written to; a DICOM file given by name protects its folder), holds a folder where a
        report file of ``formats`` goes, or holds report files and ``overwrite`` is false.
    OutputError
        ``out_dir`` cannot be resolved (a symbolic-link loop).
    """
    try:
        out = Path(out_dir).resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python < 3.13)
        raise OutputError(f"cannot be resolved ({exc}).", path=out_dir, hint="Check the output path.") from exc
    if out.exists() and not out.is_dir():
        raise InputError("is a file; the report output names a folder.", path=out,
                         hint="Choose a folder (it is created if missing).")
    for p in inputs:
        folder = input_folder(Path(p).resolve())
        if folder is not None and (out == folder or folder in out.parents):
            raise InputError(f"the output folder is inside an input folder ({folder}); inputs are never "
                             "written to.", path=out, hint="Choose an output folder elsewhere.")
    targets = {f: out / FILENAMES[f] for f in formats}
    folders = [t.name for t in targets.values() if t.is_dir()]
    if folders:
        raise InputError(f"holds a folder named {', '.join(folders)}, where a report file goes.", path=out,
                         hint="Rename or move that folder, or choose another output folder.")
    old = report_files(out)
    if old and not overwrite:
        raise _taken(out, old)
    return targets


def _taken(out: Path, old: Mapping[str, Path]) -> InputError:
    return InputError(f"already holds {', '.join(p.name for p in old.values())}, of an earlier run.", path=out,
                      hint="Pass --overwrite to replace that whole set (every report file in the folder), "
                           "or choose another output folder.")


def input_folder(path: Path) -> Path | None:
    """The folder an input owns: itself, or the series folder of a DICOM file given by name."""
    if path.is_dir():
        return path
    if not path.is_file():  # a FIFO or device: never opened here (the loader says what it is)
        return None
    try:
        with open(path, "rb") as fh:
            is_dicom = fh.read(132)[128:] == b"DICM"
    except OSError as exc:
        raise InputError(f"cannot be read ({exc.strerror or exc}).", path=path,
                         hint="Check that it exists and that you may read it.") from exc
    return path.parent if is_dicom else None


def write_report(result: StudyMeasurements, out_dir: str | os.PathLike, *,
                 formats: str | Iterable[str] | None = None,
                 image: Volume | None = None, lesions: Volume | None = None,
                 edema: Volume | None = None, cord: Volume | None = None, levels=None,
                 images: bool = True, deidentify: bool = DEIDENTIFIED_BY_DEFAULT,
                 overwrite: bool = False, inputs: Iterable[str | os.PathLike] = (),
                 timings: dict[str, float] | None = None) -> ReportResult:
    """Write ``result`` in the chosen formats into ``out_dir``, as one set; say what failed.

    Every format is written into a staging folder inside ``out_dir``, then the new files
    replace the old set, all at once (:mod:`lesionview.report.staging`). The old set is every
    report file in the folder (:func:`report_files`), of the formats asked for or not: the old
    files that no new file replaces are deleted too (:attr:`ReportResult.removed`), so the
    folder never mixes two runs. A format that fails is recorded and the others are still
    written. When no format could be written, the folder is left as it was.

    Parameters
    ----------
    result : StudyMeasurements
        What :func:`lesionview.measure.measure` returned.
    out_dir : path
        Output folder, created if missing. Files: :data:`FILENAMES`; other files in it are
        never touched.
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
        Replace the old set (every report file in ``out_dir``, whatever its format); otherwise
        any report file there refuses the whole run.
    inputs : paths
        Input files/folders; the output folder may not lie inside any of them. ``image``'s own
        source folder is always protected.
    timings : dict, optional
        Filled with seconds spent per format; the pictures and template count for the HTML
        (for the PDF when no HTML is written).

    Returns
    -------
    ReportResult
        ``{format: Path}`` of the files written, in writing order, with ``failed`` (format:
        reason) and ``removed`` (old files not replaced). ``complete`` is False when a format
        failed: an SR whose SEG failed fails too ("needs the SEG").

    Raises
    ------
    ReportError, InputError
        Before anything is written: unknown formats, SEG/SR without a DICOM image or lesion
        mask, report files in the folder without ``overwrite``, an output folder inside an
        input folder.
    OutputError
        The folder cannot take the set (not a folder, read-only, disk full...); the old files
        are as they were.
    """
    fmts = parse_formats(formats, image)
    bad = [f for f in fmts if f in DICOM_FORMATS]
    if bad and not is_dicom_image(image):
        why = ("not given" if image is None else
               "DICOM without a SeriesInstanceUID to reference" if _read_from_dicom(image) else
               "not DICOM (NIfTI has no study/series UIDs to reference)")
        raise ReportError(
            f"{' and '.join(b.upper() for b in bad)} need the source DICOM images, but the image is {why}.",
            hint="Pass the DICOM series as the image, or leave seg/sr out of the formats.")
    if bad and lesions is None:
        raise ReportError("a DICOM SEG needs the lesion mask.", hint="Pass lesions=... (CLI: the LESIONS argument).")
    protect = [*inputs]
    if image is not None and image.info.source:
        protect.append(image.info.source)
    targets = report_targets(out_dir, fmts, overwrite=overwrite, inputs=protect)
    out = Path(out_dir).resolve()
    shown = printable(deidentified(result) if deidentify else result)
    clock = timings if timings is not None else {}
    written: dict[str, Path] = {}
    failed: dict[str, str] = {}

    with Staging(out) as stage:
        staged = {f: stage.folder / FILENAMES[f] for f in fmts}

        def attempt(fmt: str, write, *, extra_s: float = 0.0) -> None:
            t0 = time.perf_counter()
            try:
                written[fmt] = write()
            except Exception as exc:  # noqa: BLE001 - recorded by name; the other formats go on
                _record(failed, fmt, exc, out)
            clock[fmt] = time.perf_counter() - t0 + extra_s

        if "json" in fmts:
            from .tabular import write_json

            attempt("json", lambda: write_json(shown, staged["json"]))
        if "csv" in fmts:
            from .tabular import write_csv

            attempt("csv", lambda: write_csv(shown, staged["csv"]))
        if "seg" in fmts:
            attempt("seg", lambda: _write_seg(shown, staged["seg"], image=image, lesions=lesions, edema=edema,
                                              cord=cord, deidentify=deidentify))
        if "sr" in fmts:
            if "seg" in written:
                attempt("sr", lambda: _write_sr(shown, staged["sr"], seg=staged["seg"], image=image,
                                                deidentify=deidentify))
            else:
                failed["sr"] = f"needs the SEG ({FILENAMES['seg']}), which was not written."
        if "html" in fmts or "pdf" in fmts:
            t0 = time.perf_counter()
            try:
                page = _page(result, shown, image=image, lesions=lesions, edema=edema, levels=levels,
                             images=images, deidentify=deidentify)
            except Exception as exc:  # noqa: BLE001 - both formats print this page
                for fmt in ("html", "pdf"):
                    if fmt in fmts:
                        _record(failed, fmt, exc, out, what="the report page could not be made: ")
            else:
                page_s = time.perf_counter() - t0        # pictures + template: shared by HTML and PDF
                if "html" in fmts:
                    from .html import write_html

                    attempt("html", lambda: write_html(page, staged["html"]), extra_s=page_s)
                if "pdf" in fmts:
                    from .pdf import write_pdf

                    attempt("pdf", lambda: write_pdf(page, staged["pdf"]),
                            extra_s=0.0 if "html" in fmts else page_s)
        if not written:      # nothing new: the old set stays as it was
            return ReportResult({}, failed)
        # Listed again: the old set is what the swap finds (another run may have written meanwhile).
        old = report_files(out)
        if old and not overwrite:
            raise _taken(out, old)
        replaced = stage.swap_in([FILENAMES[f] for f in written], replace=[p.name for p in old.values()])
    removed = {f: path for f, path in old.items() if path.name in replaced and f not in written}
    return ReportResult({f: targets[f] for f in written}, failed, removed)


def _record(failed: dict[str, str], fmt: str, exc: Exception, out: Path, *, what: str = "") -> None:
    record_failure(failed, fmt, exc, out, doing=f"write the report ({FILENAMES[fmt]})", what=what)


def record_failure(failed: dict[str, str], fmt: str, exc: Exception, out: Path, *, doing: str,
                   what: str = "") -> None:
    """Note why ``fmt`` of a report set failed, in one line; a folder that cannot take files stops
    the whole set (``doing`` says what was being written). Shared by the follow-up report."""
    if is_output_failure(exc, out):
        cause = os_cause(exc)
        if cause is None:
            raise exc
        raise set_error(out, cause, doing=doing) from exc
    text = exc.message if isinstance(exc, LesionviewError) else f"{type(exc).__name__}: {exc}"
    failed[fmt] = what + " ".join(shown_path(text).split())
    logger.debug("report format %s failed", fmt, exc_info=exc)


def _page(result, shown, *, image, lesions, edema, levels, images, deidentify) -> str:
    """The HTML page the HTML and PDF formats both hold."""
    from .html import render_html
    from .images import key_images, levels_diagram

    pictures = (key_images(result, image, lesions, edema_mask=edema, levels=levels)
                if images and image is not None and lesions is not None else [])
    return render_html(shown, images=pictures, diagram=levels_diagram(result),
                       series=image.info if is_dicom_image(image) else None, identified=not deidentify)


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

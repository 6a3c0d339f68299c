"""Mutants of real DICOM and NIfTI files, and the rule they are checked against.

The rule (issue 9): **a file's content can only produce a** :class:`~lesionview.errors.LesionviewError`;
nothing hangs; a gzip stream that fails its CRC or length check is never loaded; and in a folder,
one bad file is ignored with its reason while the others still load.

Every mutant is made from a fixed seed, so a failure is reproduced by its name alone
(``python -m tests.fuzzing NAME`` writes it to disk). ``make test`` checks a few hundred;
``make fuzz`` (``LESIONVIEW_FUZZ_CASES``) checks thousands.

Families and what they are made from (``../shared/data``, read in place):

=================== =====================================================================
dicom-classic       one file of the real 35-file sagittal T1 series (Siemens)
dicom-enhanced      the Philips enhanced multi-frame MR file (8 frames)
dicom-mosaic        the Siemens mosaic (35 tiles of 64x64) stored uncompressed
dicom-compressed    the same mosaic in RLE, JPEG lossless, JPEG-LS and JPEG 2000
nifti-mask          the SCT manual cord mask (.nii.gz, uint8)
nifti-image         the SCT T2 image (.nii.gz)
nifti-raw           an uncompressed .nii (the transfer-syntax reference conversion)
=================== =====================================================================

Mutations: byte flips (mostly in the header, where they matter), truncation, header edits that
put wrong values where the standard expects others (wrong number of values, text, NaN, zero,
negative, huge, deleted), and for NIfTI gzip-level damage (CRC, length, stream bytes).

:func:`check` loads one mutant on its own; :func:`check_in_folder` puts a dicom-classic mutant in
place of its source file in a copy of the real 35-file series, where the other 34 files must still
load as the series and the mutant, if not loaded, be listed as ignored with its reason. Both call
"escaped" a message from lesionview's own safety net (:data:`UNEXPECTED`), and "hang" anything
still running at the time limit, whatever the code under test turned the alarm into.
"""

from __future__ import annotations

import gzip
import io
import random
import signal
import struct
import sys
import warnings
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.dataelem import DataElement

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"

#: family -> path of the source file under ../shared/data
SOURCES = {
    "dicom-classic": "dicom/sagittal_t1_series/0015_1.3.12.2.1107.5.2.43.67060.2022040715053447317360786.dcm",
    "dicom-enhanced": "dicom/edge_cases/enhanced_multiframe_philips/IM-0001-0170-0001.dcm",
    "dicom-mosaic": "dicom/transfer_syntaxes/1.dcm",
    "dicom-compressed": ("dicom/transfer_syntaxes/4.dcm", "dicom/transfer_syntaxes/5.dcm",
                         "dicom/transfer_syntaxes/7.dcm", "dicom/transfer_syntaxes/9.dcm"),
    "nifti-mask": "sct_t2/t2_seg-manual.nii.gz",
    "nifti-image": "sct_t2/t2.nii.gz",
    "nifti-raw": "dicom/transfer_syntaxes/Ref_1.nii",
}
FAMILIES = tuple(SOURCES)


@dataclass(frozen=True)
class Mutant:
    name: str            # family/kind-k: reproduces the mutant
    family: str
    data: bytes
    suffix: str          # ".dcm", ".nii.gz" or ".nii"
    corrupt_gzip: bool   # the gzip stream fails its CRC or length check: must never load

    def write(self, folder: Path) -> Path:
        path = folder / (self.name.replace("/", "_") + self.suffix)
        path.write_bytes(self.data)
        return path


# ----------------------------------------------------------------------------- DICOM edits
# Wrong values of the kinds met in the wild, per element (VR kept, so only the value is wrong).
_BAD_DS3 = ["1\\2", "a\\b\\c", "nan\\0\\0", "", "1\\2\\3\\4", "inf\\0\\0", "1e400\\0\\0", "-0\\x"]
_BAD = {
    "ImagePositionPatient": _BAD_DS3,
    "ImageOrientationPatient": ["0\\0\\0\\0\\0\\0", "1\\0\\0\\1\\0\\0", "1\\0\\0", "x\\y\\z\\1\\2\\3",
                                "nan\\0\\0\\0\\1\\0", "", "1e300\\0\\0\\0\\1\\0", "1\\0\\0\\0\\1\\0\\0"],
    "PixelSpacing": ["0\\0", "-1\\1", "1", "a\\b", "nan\\1", "1e300\\1e300", "", "1\\2\\3", "1e-300\\1"],
    "RescaleSlope": ["1\\2", "abc", "nan", "inf", "0", "", "1e300"],
    "RescaleIntercept": ["1\\2", "abc", "nan", "-inf", "", "1e300"],
    "SpacingBetweenSlices": ["1\\2", "abc", "-3", "0", "nan", ""],
    "SliceThickness": ["1\\2", "abc", "-3", "0", "nan"],
    "NumberOfFrames": ["2\\3", "abc", "0", "-1", "100000", "", "1e9"],
    "SamplesPerPixel": [[1, 1], 0, 3, 65535],
    "Rows": [0, 1, 65535, None],
    "Columns": [0, 1, 65535, None],
    "BitsAllocated": [0, 1, 12, 64, 65535, [16, 16]],
    "BitsStored": [0, 17, 64, 1, None],
    "HighBit": [0, 40, None],
    "PixelRepresentation": [2, 65535, None, [0, 1]],
    "PhotometricInterpretation": ["RGB", "PALETTE COLOR", "", "YBR_FULL", None],
    "SeriesInstanceUID": [None, "", "1." * 40, "x"],
    "SOPInstanceUID": [None, ""],
    "StudyInstanceUID": [None, ""],
    "InstanceNumber": ["abc", "1\\2", "", None],
    "SeriesNumber": ["abc", "1\\2", ""],
    "SpecificCharacterSet": ["ISO_IR 999", "\\", "ISO 2022 IR 87\\xx"],
    "ImageType": [None, "", "ORIGINAL\\PRIMARY\\MOSAIC"],
    "RepetitionTime": ["abc", "1\\2", "nan"],
    "EchoTime": ["abc", "inf"],
    "PatientName": ["\xff\xfe", "a" * 300],
    "ContrastBolusAgent": ["\x00\x01"],
    "SeriesDescription": ["\udcff" if False else "\\\\\\"],
}
_MOSAIC = {(0x0019, 0x100A): [0, 1000, "abc", 1]}


def _set(ds, keyword_or_tag, value) -> bool:
    tag = pydicom.datadict.tag_for_keyword(keyword_or_tag) if isinstance(keyword_or_tag, str) else keyword_or_tag
    tag = pydicom.tag.Tag(tag)
    if value is None:
        if tag in ds:
            del ds[tag]
            return True
        return False
    vr = ds[tag].VR if tag in ds else pydicom.datadict.dictionary_VR(tag)
    if isinstance(value, str) and vr in ("IS", "DS", "US", "SS", "UL", "FL", "FD"):
        # Text where a number belongs: built as text, then given the numeric VR, so the file
        # carries the wrong value exactly as a broken writer would have put it.
        elem = DataElement(tag, "LO", value)
        elem.VR = vr if vr in ("IS", "DS") else "LO"
    else:
        elem = DataElement(tag, vr, value)
    ds[tag] = elem
    return True


def _frame_edit(ds, rng: random.Random) -> None:
    """Damage one frame's functional groups of an enhanced file."""
    per = ds.get("PerFrameFunctionalGroupsSequence")
    if not per:
        return
    k = rng.randrange(len(per))
    choice = rng.randrange(5)
    item = per[k]
    if choice == 0:
        del per[k]
    elif choice == 1 and "PlanePositionSequence" in item:
        del item.PlanePositionSequence
    elif choice == 2 and "PlanePositionSequence" in item:
        _set(item.PlanePositionSequence[0], "ImagePositionPatient", rng.choice(_BAD_DS3))
    elif choice == 3:
        shared = ds.get("SharedFunctionalGroupsSequence")
        if shared and "PixelMeasuresSequence" in shared[0]:
            _set(shared[0].PixelMeasuresSequence[0], "PixelSpacing", rng.choice(_BAD["PixelSpacing"]))
    else:
        _set(ds, "Rows", None)


def _dicom_edit(data: bytes, rng: random.Random, family: str) -> bytes:
    for _ in range(10):  # pydicom refuses to write a few combinations: draw again
        try:
            return _dicom_edit_once(data, rng, family)
        except Exception:  # noqa: BLE001, S112 (e.g. IndexError encoding text under a broken character set)
            continue
    return data


def _dicom_edit_once(data: bytes, rng: random.Random, family: str) -> bytes:
    with _lenient_pydicom():
        ds = pydicom.dcmread(io.BytesIO(data), force=True)
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            if family == "dicom-enhanced" and rng.random() < 0.4:
                _frame_edit(ds, rng)
                continue
            if family in ("dicom-mosaic", "dicom-compressed") and rng.random() < 0.2:
                tag, values = next(iter(_MOSAIC.items()))
                if tag in ds:
                    _set(ds, tag, rng.choice(values))
                continue
            keyword = rng.choice(sorted(_BAD))
            _set(ds, keyword, rng.choice(_BAD[keyword]))
        buf = io.BytesIO()
        ds.save_as(buf, enforce_file_format=False)
        data = buf.getvalue()
        if rng.random() < 0.1:
            data = _claim_syntax(data, rng.choice(["1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.5",
                                                   "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.1",
                                                   "1.2.840.10008.1.2.2", "1.2.3.4"]))
    return data


def _claim_syntax(data: bytes, uid: str) -> bytes:
    """The same dataset bytes under a file meta that names another transfer syntax."""
    if data[128:132] != b"DICM":
        return data
    fp = io.BytesIO(data)
    fp.seek(132)
    meta = pydicom.filereader._read_file_meta_info(fp)
    body = data[fp.tell():]
    meta.TransferSyntaxUID = uid
    out = io.BytesIO()
    out.write(data[:132])
    pydicom.filewriter.write_file_meta_info(out, meta, enforce_standard=False)
    return out.getvalue() + body


@contextmanager
def _lenient_pydicom():
    cfg = pydicom.config.settings
    saved = cfg.reading_validation_mode, cfg.writing_validation_mode
    cfg.reading_validation_mode = cfg.writing_validation_mode = pydicom.config.IGNORE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        cfg.reading_validation_mode, cfg.writing_validation_mode = saved


# ----------------------------------------------------------------------------- NIfTI edits
# (offset, struct format, bad values) of NIfTI-1 header fields (little endian files)
_NIFTI_FIELDS = [
    (40, "<8h", [(3, 0, 10, 10, 1, 1, 1, 1), (3, -5, 10, 10, 1, 1, 1, 1), (9, 1, 1, 1, 1, 1, 1, 1),
                 (3, 30000, 30000, 30000, 1, 1, 1, 1), (0, 1, 1, 1, 1, 1, 1, 1), (4, 60, 55, 52, 0, 1, 1, 1),
                 (3, 32767, 32767, 2, 1, 1, 1, 1)]),
    (70, "<h", [0, 3, 7, 255, 32767, 1536, -1]),                       # datatype
    (72, "<h", [0, 3, 64, 256]),                                      # bitpix
    (76, "<8f", [(1, 0, 0, 0, 0, 0, 0, 0), (1, float("nan"), 1, 1, 1, 1, 1, 1), (1, -1, -1, -1, 1, 1, 1, 1),
                 (1, float("inf"), 1, 1, 1, 1, 1, 1), (1, 1e-30, 1e-30, 1e-30, 1, 1, 1, 1),
                 (1, 1e30, 1e30, 1e30, 1, 1, 1, 1)]),                 # pixdim
    (108, "<f", [0.0, -352.0, 7.0, 1e12, float("nan"), 3.5]),        # vox_offset
    (112, "<2f", [(float("nan"), 0), (float("inf"), 0), (0.0, 0.0), (1e38, 1e38), (1.0, float("nan"))]),
    (252, "<2h", [(0, 0), (1, 0), (0, 1), (7, 7), (-1, 2), (2, 5)]),  # qform_code, sform_code
    (256, "<6f", [(0, 0, 0, 0, 0, 0), (float("nan"), 0, 0, 0, 0, 0), (2, 2, 2, 0, 0, 0), (1, 0, 0, 1e30, 1e30, 1e30)]),
    (280, "<4f", [(0, 0, 0, 0), (float("nan"), 0, 0, 0), (float("inf"), 1, 0, 0), (1e30, 0, 0, 0)]),  # srow_x
    (296, "<4f", [(0, 0, 0, 0), (float("nan"), 0, 0, 0)]),            # srow_y
    (344, "<4s", [b"n+2\0", b"ni1\0", b"\0\0\0\0", b"n+1\0"]),         # magic
    (0, "<i", [348, 0, 540, -1, 1 << 30]),                            # sizeof_hdr
]


def _nifti_header_edit(raw: bytes, rng: random.Random) -> bytes:
    buf = bytearray(raw)
    for _ in range(rng.choice((1, 1, 2))):
        offset, fmt, values = rng.choice(_NIFTI_FIELDS)
        value = rng.choice(values)
        packed = struct.pack(fmt, *(value if isinstance(value, tuple) else (value,)))
        buf[offset:offset + len(packed)] = packed
    return bytes(buf)


def _gzip(raw: bytes) -> bytes:
    return gzip.compress(raw, compresslevel=1, mtime=0)


def _gzip_damage(data: bytes, rng: random.Random) -> bytes:
    kind = rng.randrange(6)
    buf = bytearray(data)
    if kind == 0:    # CRC32 of the trailer
        buf[-8] ^= 0xFF
    elif kind == 1:  # ISIZE of the trailer
        buf[-3] ^= 0x01
    elif kind == 2:  # a byte inside the deflate stream, past the header
        i = rng.randrange(400, len(buf) - 8)
        buf[i] ^= 1 << rng.randrange(8)
    elif kind == 3:  # trailing garbage
        buf += b"garbage after the stream"
    elif kind == 4:  # cut inside the trailer
        del buf[-rng.randrange(1, 8):]
    else:            # several deflate bytes late in the stream (where lazy readers never look)
        for _ in range(rng.randrange(1, 4)):
            i = rng.randrange(len(buf) * 3 // 4, len(buf) - 8)
            buf[i] = rng.randrange(256)
    return bytes(buf)


def gzip_is_corrupt(data: bytes) -> bool:
    """True when Python's gzip (which checks CRC32 and ISIZE) cannot inflate the whole stream."""
    try:
        gzip.decompress(data)
    except (OSError, EOFError, zlib.error):
        return True
    return False


# ----------------------------------------------------------------------------- generic
def _flip(data: bytes, rng: random.Random, header: int) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randrange(1, 9)):
        limit = header if rng.random() < 0.85 else len(buf)
        i = rng.randrange(min(limit, len(buf)))
        buf[i] = rng.randrange(256) if rng.random() < 0.5 else buf[i] ^ (1 << rng.randrange(8))
    return bytes(buf)


def _truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(0, len(data))]


def _dicom_header_size(data: bytes) -> int:
    with _lenient_pydicom():
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, force=True)
    for tag in (0x7FE00010,):
        pass
    # the pixel data element starts where the header read stopped
    return max(256, min(len(data), _pixel_offset(data, ds)))


def _pixel_offset(data: bytes, ds) -> int:
    i = data.rfind(b"\xe0\x7f\x10\x00")
    return i if i > 0 else len(data)


def _sources(family: str) -> list[Path]:
    src = SOURCES[family]
    return [SHARED / p for p in ((src,) if isinstance(src, str) else src)]


def mutants(family: str, count: int, *, seed: int = 0) -> Iterator[Mutant]:
    """``count`` mutants of ``family``, the same ones on every machine for a given seed."""
    rng = random.Random(f"{family}:{seed}")
    originals = [p.read_bytes() for p in _sources(family)]
    nifti = family.startswith("nifti")
    gz = nifti and family != "nifti-raw"
    suffix = ".nii.gz" if gz else ".nii" if nifti else ".dcm"
    raw_originals = [gzip.decompress(o) if gz else o for o in originals]
    headers = [348 + 4 if nifti else _dicom_header_size(o) for o in raw_originals]
    kinds = (["flip", "truncate", "edit", "flip-raw"] + (["gzip"] * 2 if gz else []))
    for k in range(count):
        which = rng.randrange(len(originals))
        original, raw, header = originals[which], raw_originals[which], headers[which]
        kind = rng.choice(kinds)
        if kind == "flip":          # on the stored bytes (the gzip stream, for .nii.gz)
            data = _flip(original, rng, 64 if gz else header)
        elif kind == "truncate":
            data = _truncate(original, rng)
        elif kind == "gzip":
            data = _gzip_damage(original, rng)
        else:                       # edits and flips of the decoded header, stored soundly
            edited = (_nifti_header_edit(raw, rng) if nifti else _dicom_edit(raw, rng, family)) \
                if kind == "edit" else _flip(raw, rng, header)
            data = _gzip(edited) if gz else edited
        yield Mutant(f"{family}/{kind}-{seed}-{k}", family, data, suffix, gz and gzip_is_corrupt(data))


# ----------------------------------------------------------------------------- the check
class Hang(Exception):
    """A case ran longer than its time budget."""


@contextmanager
def time_limit(seconds: float):
    """Raise :class:`Hang` in the main thread after ``seconds`` (SIGALRM: POSIX only).

    Yields a list that holds the message once the alarm has fired: the code under test may catch
    :class:`Hang` and turn it into its own error (loaders catch their decoders' exceptions), and
    a hang is still a hang.
    """
    fired: list[str] = []

    def _alarm(signum, frame):
        fired.append(f"still running after {seconds:g} s")
        raise Hang(fired[0])

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@dataclass
class Outcome:
    mutant: str
    result: str  # "loaded", "refused", "escaped", "hang", "loaded-corrupt"; in a folder also "lost"
    detail: str = ""


#: Reasons lesionview gives when its own safety net caught one of its defects (see
#: ``lesionview.io.dicom.discover.UNEXPECTED``): clean for a user, but still a bug here.
UNEXPECTED = "unexpected error"


def _escaped(exc: BaseException) -> str:
    return f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}"[:300]


def check(path: Path, mutant: Mutant, *, load: Callable, timeout: float = 10.0) -> Outcome:
    """Load ``path``; classify what happened against the rule."""
    from lesionview.errors import LesionviewError

    fired: list[str] = []
    try:
        with time_limit(timeout) as fired, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            volumes = load(path)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Hang as exc:
        return Outcome(mutant.name, "hang", str(exc))
    except LesionviewError as exc:
        if fired:
            return Outcome(mutant.name, "hang", f"{fired[0]} (then reported as: {exc.message[:150]})")
        if UNEXPECTED in exc.message:
            return Outcome(mutant.name, "escaped", f"caught by lesionview's safety net: {exc.message[:250]}")
        return Outcome(mutant.name, "refused", exc.message[:200])
    # BaseException: pyo3's PanicException (Rust decoders) is one, and must not escape either.
    except BaseException as exc:  # noqa: BLE001 (that is the point: anything else is a defect)
        return Outcome(mutant.name, "hang" if fired else "escaped", fired[0] if fired else _escaped(exc))
    if fired:
        return Outcome(mutant.name, "hang", fired[0])
    if mutant.corrupt_gzip:
        return Outcome(mutant.name, "loaded-corrupt", "a gzip stream that fails its CRC/length check loaded")
    for v in volumes:
        why = _impossible(v, dicom=mutant.family.startswith("dicom"))
        if why:
            return Outcome(mutant.name, "escaped", why)
    return Outcome(mutant.name, "loaded")


def _impossible(volume, *, dicom: bool) -> str:
    """Why a loaded volume cannot be what a sound file holds ("" when nothing is wrong)."""
    import numpy as np

    g = volume.geometry
    if not all(s > 0 for s in g.spacing) or volume.array.shape != g.shape:
        return f"loaded an impossible grid {g.describe()}"
    if not np.all(np.isfinite(g.origin)) or not np.all(np.isfinite(g.spacing)):
        return f"loaded a grid with non-finite numbers {g.describe()}"
    # DICOM values are rescaled integers here (no float pixel data in these files): never NaN or inf.
    if dicom and volume.array.dtype.kind == "f" and not np.all(np.isfinite(volume.array)):
        return "loaded non-finite pixel values"
    return ""


#: The file of the sagittal series that dicom-classic mutants are made from.
CLASSIC_NAME = Path(SOURCES["dicom-classic"]).name


def check_in_folder(series_dir: Path, mutant: Mutant, tmp: Path, *, load: Callable | None = None,
                    scan: Callable | None = None, timeout: float = 10.0, min_slices: int | None = None) -> Outcome:
    """Put ``mutant`` in place of its source file in a copy of ``series_dir``: the other files
    must still load as the series, and the mutant, when not loaded, be listed as ignored with a reason.

    The copy is made once in ``tmp / "series"`` and reused (the mutant's file is restored after
    each check). ``min_slices`` defaults to the number of ``.dcm`` files less one. Results:
    "loaded" (the rule holds), "lost" (the series did not come back whole), "escaped", "hang".
    """
    import shutil

    from lesionview.errors import LesionviewError

    if load is None:
        from lesionview.io import load
    if scan is None:
        from lesionview.io.dicom import scan
    folder = tmp / "series"
    if not folder.is_dir():
        shutil.copytree(series_dir, folder)
    victim = folder / (CLASSIC_NAME if mutant.family == "dicom-classic" else mutant.name.replace("/", "_") + ".dcm")
    original = victim.read_bytes() if victim.exists() else None
    n_files = len(list(folder.glob("*.dcm"))) + (original is None)
    min_slices = n_files - 1 if min_slices is None else min_slices
    victim.write_bytes(mutant.data)
    fired: list[str] = []
    try:
        with time_limit(timeout) as fired, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            volumes = load(folder)
            found = scan(folder)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Hang as exc:
        return Outcome(mutant.name, "hang", str(exc))
    except LesionviewError as exc:
        if fired:
            return Outcome(mutant.name, "hang", fired[0])
        return Outcome(mutant.name, "escaped" if UNEXPECTED in exc.message else "lost",
                       f"one bad file cost the folder: {exc.message[:250]}")
    except BaseException as exc:  # noqa: BLE001 (anything else is a defect)
        return Outcome(mutant.name, "hang" if fired else "escaped", fired[0] if fired else _escaped(exc))
    finally:
        if original is None:
            victim.unlink(missing_ok=True)
        else:
            victim.write_bytes(original)
    if fired:
        return Outcome(mutant.name, "hang", fired[0])
    for v in volumes:
        why = _impossible(v, dicom=True)
        if why:
            return Outcome(mutant.name, "escaped", why)
    best = max((s.n_slices for s in found.series), default=0)
    if best < min_slices or not any(v.array.shape[0] >= min_slices for v in volumes):
        return Outcome(mutant.name, "lost", f"the series came back with {best} slices, not {min_slices} or more")
    in_series = any(str(victim) in s.files for s in found.series)
    reasons = [i for i in found.ignored if i.path == victim.name]
    if not in_series and not (reasons and reasons[0].reason):
        return Outcome(mutant.name, "lost", f"{victim.name} is neither loaded nor listed as ignored with a reason")
    if reasons and UNEXPECTED in reasons[0].reason:
        return Outcome(mutant.name, "escaped", f"caught by lesionview's safety net: {reasons[0].reason[:250]}")
    return Outcome(mutant.name, "loaded", reasons[0].reason[:200] if reasons else "")


def run(families=FAMILIES, per_family: int = 50, *, seed: int = 0, folder: Path, load=None,
        timeout: float = 10.0) -> list[Outcome]:
    if load is None:
        from lesionview.io import load
    outcomes = []
    for family in families:
        for m in mutants(family, per_family, seed=seed):
            path = m.write(folder)
            outcomes.append(check(path, m, load=load, timeout=timeout))
            path.unlink()
    return outcomes


def run_in_folder(count: int, *, seed: int = 0, folder: Path, timeout: float = 10.0,
                  series_dir: Path | None = None) -> list[Outcome]:
    """:func:`check_in_folder` for ``count`` dicom-classic mutants in the real sagittal series."""
    series_dir = series_dir or SHARED / Path(SOURCES["dicom-classic"]).parent
    return [check_in_folder(series_dir, m, folder, timeout=timeout)
            for m in mutants("dicom-classic", count, seed=seed)]


def mutant_by_name(name: str) -> Mutant:
    family, rest = name.split("/", 1)
    kind_seed_k = rest.rsplit("-", 2)
    seed, k = int(kind_seed_k[1]), int(kind_seed_k[2])
    for i, m in enumerate(mutants(family, k + 1, seed=seed)):
        if i == k:
            return m
    raise KeyError(name)


if __name__ == "__main__":  # python tests/fuzzing.py NAME [FOLDER]: write one mutant to disk
    m = mutant_by_name(sys.argv[1])
    print(m.write(Path(sys.argv[2] if len(sys.argv) > 2 else ".")))

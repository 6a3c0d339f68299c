"""Bad inputs of every kind issue 9 names, built from real files, for the CLI matrix.

Each :class:`Case` builds its input under a folder and says what the CLI must do with it:
``refuse`` (exit 2, one line naming the file and the problem) or ``load`` (exit 0; the damage,
if any, is reported as a problem or an ignored file). No case may print a traceback or hang.
"""

from __future__ import annotations

import gzip
import os
import shutil
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.dataelem import DataElement

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SERIES = SHARED / "dicom" / "sagittal_t1_series"
ENHANCED = SHARED / "dicom" / "edge_cases" / "enhanced_multiframe_philips" / "IM-0001-0170-0001.dcm"
MOSAIC = SHARED / "dicom" / "transfer_syntaxes" / "1.dcm"
SCT = SHARED / "sct_t2"


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Path], Path]   # folder -> the path given to the CLI
    expect: str                      # "refuse" or "load"
    says: str = ""                   # regex the output must contain (stderr for refuse, any for load)
    nifti_mask: bool = False         # a mask: also try it as `measure LESIONS`


# ----------------------------------------------------------------------------- DICOM
def _series_files() -> list[Path]:
    return sorted(SERIES.glob("*.dcm"))


def _edited(src: Path, edits: dict) -> pydicom.Dataset:
    cfg = pydicom.config.settings
    saved = cfg.writing_validation_mode
    cfg.writing_validation_mode = pydicom.config.IGNORE
    try:
        ds = pydicom.dcmread(src)
        for keyword, value in edits.items():
            tag = pydicom.tag.Tag(pydicom.datadict.tag_for_keyword(keyword) if isinstance(keyword, str) else keyword)
            if value is None:
                if tag in ds:
                    del ds[tag]
                continue
            vr = ds[tag].VR if tag in ds else pydicom.datadict.dictionary_VR(tag)
            if isinstance(value, str) and vr in ("DS", "IS"):
                elem = DataElement(tag, "LO", value)   # text kept as written, numeric VR
                elem.VR = vr
            else:
                elem = DataElement(tag, vr, value)
            ds[tag] = elem
    finally:
        cfg.writing_validation_mode = saved
    return ds


def _save(ds: pydicom.Dataset, path: Path) -> Path:
    cfg = pydicom.config.settings
    saved = cfg.writing_validation_mode
    cfg.writing_validation_mode = pydicom.config.IGNORE
    try:
        ds.save_as(path, enforce_file_format=False)
    finally:
        cfg.writing_validation_mode = saved
    return path


def dicom_file(edits: dict, src: Path | None = None) -> Callable[[Path], Path]:
    """One edited file given alone."""
    def build(folder: Path) -> Path:
        source = src or _series_files()[14]
        return _save(_edited(source, edits), folder / "bad.dcm")
    return build


def dicom_in_series(edits: dict) -> Callable[[Path], Path]:
    """The real series with its 15th file edited: the others must still load."""
    def build(folder: Path) -> Path:
        target = folder / "series"
        shutil.copytree(SERIES, target)
        victim = sorted(target.glob("*.dcm"))[14]
        _save(_edited(victim, edits), victim)
        return target
    return build


def _zeros(folder: Path) -> Path:
    path = folder / "zeros.dcm"
    with open(path, "wb") as fh:
        fh.truncate(20 * 2**20)   # sparse: 20 MB of zeros
    return path


def _series_with(extra: Callable[[Path], None]) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        target = folder / "series"
        shutil.copytree(SERIES, target)
        extra(target)
        return target
    return build


def _fifo(target: Path) -> None:
    os.mkfifo(target / "pipe.dcm")


def _loop(target: Path) -> None:
    os.symlink(target / "loop-b", target / "loop-a")
    os.symlink(target / "loop-a", target / "loop-b")


def _device(target: Path) -> None:
    os.symlink("/dev/zero", target / "zero.dcm")


def _duplicate(target: Path) -> None:
    first = sorted(target.glob("*.dcm"))[3]
    shutil.copy(first, target / "copy-of-4.dcm")


def _truncated(target: Path) -> None:
    victim = sorted(target.glob("*.dcm"))[10]
    victim.write_bytes(victim.read_bytes()[:3000])


def _bad_crc_zip(folder: Path) -> Path:
    path = folder / "series.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for f in _series_files():
            zf.write(f, f"series/{f.name}")
    data = bytearray(path.read_bytes())
    # flip one pixel byte of the 6th member (stored, so the member's CRC no longer matches)
    with zipfile.ZipFile(path) as zf:
        info = zf.infolist()[5]
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + info.compress_size - 100] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def _zero_member_zip(folder: Path) -> Path:
    path = folder / "series.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in _series_files():
            zf.write(f, f"series/{f.name}")
        with zf.open("series/zeros.dcm", "w") as fh:
            block = bytes(2**20)
            for _ in range(60):
                fh.write(block)
    return path


def _mosaic_edit(edits: dict) -> Callable[[Path], Path]:
    return dicom_file(edits, src=MOSAIC)


def _enhanced_without_rows(folder: Path) -> Path:
    return _save(_edited(ENHANCED, {"Rows": None}), folder / "enhanced.dcm")


def _twelve_bit_high_bits(folder: Path) -> Path:
    ds = pydicom.dcmread(_series_files()[14])
    arr = ds.pixel_array.copy()
    arr |= 0xF000   # garbage in the 4 unused high bits: readers must mask it off
    ds.PixelData = arr.tobytes()
    return _save(ds, folder / "twelve.dcm")


# ----------------------------------------------------------------------------- NIfTI
def _nifti_raw(name: str = "t2_seg-manual.nii.gz") -> bytearray:
    return bytearray(gzip.decompress((SCT / name).read_bytes()))


def nifti_header(fields: list[tuple[int, str, tuple]], name: str = "t2_seg-manual.nii.gz"):
    """The SCT cord mask with header fields overwritten: (offset, struct format, values)."""
    def build(folder: Path) -> Path:
        raw = _nifti_raw(name)
        for offset, fmt, values in fields:
            packed = struct.pack(fmt, *values)
            raw[offset:offset + len(packed)] = packed
        path = folder / "bad.nii.gz"
        path.write_bytes(gzip.compress(bytes(raw), mtime=0))
        return path
    return build


def gzip_damage(how: str):
    def build(folder: Path) -> Path:
        data = bytearray((SCT / "t2_seg-manual.nii.gz").read_bytes())
        if how == "crc":
            data[-8] ^= 0xFF
        elif how == "isize":
            data[-2] ^= 0x01
        elif how == "truncated":
            del data[len(data) * 2 // 3:]
        elif how == "garbage":
            data += b"trailing garbage"
        elif how == "late-bytes":
            for i in range(len(data) - 60, len(data) - 20, 7):
                data[i] ^= 0x55
        path = folder / "bad.nii.gz"
        path.write_bytes(bytes(data))
        return path
    return build


def _nifti_fifo(folder: Path) -> Path:
    path = folder / "pipe.nii.gz"
    os.mkfifo(path)
    return path


def _raw_truncated(folder: Path) -> Path:
    path = folder / "cut.nii"
    path.write_bytes(bytes(_nifti_raw())[:5000])
    return path


# dim, pixdim, vox_offset, scl, codes, srow offsets in a NIfTI-1 header
DIM, DATATYPE, PIXDIM, VOX, SCL, CODES, SROW = 40, 70, 76, 108, 112, 252, 280
NAN, INF = float("nan"), float("inf")

CASES: list[Case] = [
    # DICOM values in the wrong form, the file given alone (refused) and inside the series (ignored)
    *[Case(f"dicom-{label}-alone", dicom_file(edits), "refuse", word) for label, edits, word in [
        ("ipp-two-values", {"ImagePositionPatient": "1\\2"}, "ImagePositionPatient"),
        ("ipp-text", {"ImagePositionPatient": "a\\b\\c"}, "ImagePositionPatient"),
        ("ipp-nan", {"ImagePositionPatient": "nan\\0\\0"}, "ImagePositionPatient"),
        ("iop-zero", {"ImageOrientationPatient": "0\\0\\0\\0\\0\\0"}, "ImageOrientationPatient"),
        ("iop-parallel", {"ImageOrientationPatient": "1\\0\\0\\1\\0\\0"}, "ImageOrientationPatient"),
        ("iop-three-values", {"ImageOrientationPatient": "1\\0\\0"}, "ImageOrientationPatient"),
        ("spacing-zero", {"PixelSpacing": "0\\0"}, "PixelSpacing"),
        ("spacing-negative", {"PixelSpacing": "-1\\1"}, "PixelSpacing"),
        ("spacing-one-value", {"PixelSpacing": "1"}, "PixelSpacing"),
        ("spacing-text", {"PixelSpacing": "a\\b"}, "PixelSpacing"),
        ("slope-multi", {"RescaleSlope": "1\\2"}, "RescaleSlope"),
        ("intercept-multi", {"RescaleIntercept": "1\\2"}, "RescaleIntercept"),
        ("samples-multi", {"SamplesPerPixel": [1, 1]}, "SamplesPerPixel"),
        ("frames-multi", {"NumberOfFrames": "2\\3"}, "NumberOfFrames"),
        ("rows-missing", {"Rows": None}, "Rows"),
        ("bits-64", {"BitsAllocated": 64}, "Bits"),
    ]],
    *[Case(f"dicom-{label}-in-series", dicom_in_series(edits), "load", "ignored") for label, edits in [
        ("ipp-text", {"ImagePositionPatient": "a\\b\\c"}),
        ("iop-zero", {"ImageOrientationPatient": "0\\0\\0\\0\\0\\0"}),
        ("spacing-zero", {"PixelSpacing": "0\\0"}),
        ("slope-multi", {"RescaleSlope": "1\\2"}),
        ("spacing-between-multi", {"SpacingBetweenSlices": "1\\2"}),
        ("frames-multi", {"NumberOfFrames": "2\\3"}),
    ]],
    Case("dicom-enhanced-no-rows", _enhanced_without_rows, "refuse", "Rows"),
    Case("dicom-mosaic-tiles-absurd", _mosaic_edit({(0x0019, 0x100A): 1000}), "refuse", "mosaic"),
    Case("dicom-20MB-of-zeros", _zeros, "refuse", "not a DICOM"),
    Case("dicom-fifo-in-folder", _series_with(_fifo), "load", "pipe.dcm"),
    Case("dicom-symlink-loop-in-folder", _series_with(_loop), "load", "loop"),
    Case("dicom-link-to-device-in-folder", _series_with(_device), "load", "zero.dcm"),
    Case("dicom-duplicate-file", _series_with(_duplicate), "load", "duplicate"),
    Case("dicom-truncated-in-folder", _series_with(_truncated), "load", "truncated"),
    Case("dicom-zip-bad-crc-member", _bad_crc_zip, "load", "CRC"),
    Case("dicom-zip-60MB-zero-member", _zero_member_zip, "load", "zeros.dcm"),
    Case("dicom-12-bit-with-high-bits", _twelve_bit_high_bits, "load"),
    # NIfTI headers
    Case("nifti-bad-vox-offset", nifti_header([(VOX, "<f", (7.0,))]), "refuse", "vox_offset|offset"),
    Case("nifti-negative-vox-offset", nifti_header([(VOX, "<f", (-352.0,))]), "refuse", "offset"),
    Case("nifti-unknown-datatype", nifti_header([(DATATYPE, "<h", (255,))]), "refuse", "datatype|data type"),
    Case("nifti-zero-dim", nifti_header([(DIM, "<8h", (3, 0, 55, 52, 1, 1, 1, 1))]), "refuse", "dim"),
    Case("nifti-negative-dim", nifti_header([(DIM, "<8h", (3, -5, 55, 52, 1, 1, 1, 1))]), "refuse", "dim"),
    Case("nifti-huge-dims", nifti_header([(DIM, "<8h", (3, 30000, 30000, 30000, 1, 1, 1, 1))]), "refuse",
         "bytes|memory|truncated|GB"),
    Case("nifti-nan-sform", nifti_header([(CODES, "<2h", (0, 1)), (SROW, "<4f", (NAN, 0, 0, 0))]), "refuse",
         "affine|sform"),
    Case("nifti-singular-sform", nifti_header([(CODES, "<2h", (0, 1)), (SROW, "<4f", (0, 0, 0, 0))]), "refuse",
         "affine|sform|singular"),
    Case("nifti-pixdim-zero-no-sform", nifti_header([(CODES, "<2h", (1, 0)),
                                                     (PIXDIM, "<8f", (1, 0, 1, 1, 1, 1, 1, 1))]),
         "refuse", "pixdim|voxel size"),
    Case("nifti-inf-slope", nifti_header([(SCL, "<2f", (INF, 0.0))]), "refuse", "scl_slope|slope|scaling"),
    # gzip damage: never measured as if sound
    *[Case(f"nifti-gzip-{how}", gzip_damage(how), "refuse", "gzip|CRC|corrupt|truncated|length")
      for how in ("crc", "isize", "truncated", "garbage", "late-bytes")],
    Case("nifti-fifo", _nifti_fifo, "refuse", "regular file|FIFO|pipe"),
    Case("nifti-raw-truncated", _raw_truncated, "refuse", "truncated|short"),
]

#: Cases whose input is a mask: `measure` must treat them like `info` does.
MASK_CASES = [c for c in CASES if c.name.startswith("nifti-")]


def make(case: Case, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return case.build(folder)

"""DICOM series loading: lesionview against SimpleITK/GDCM and a plain pydicom loop (512x512x200 int16).

Target (issue 2): lesionview within 1.2x of the fastest peer, peak memory at most 2x the volume.

How it is measured
------------------
* The series (uncompressed, Explicit VR Little Endian, files named in shuffled order so sorting
  matters) is generated once with pydicom in the work folder, then read once to warm the page
  cache, so every method reads from memory, not from the disk.
* Each method runs in its own fresh Python process (``subprocess``), ``REPEATS`` times; the row
  gives the best wall time of the load call alone (imports excluded).
* Peak memory is the growth of the process's peak resident set size during the load: ``VmHWM``
  after the load minus ``VmRSS`` just before it (both from ``/proc/self/status``, so Linux only).
  RSS is used rather than tracemalloc because tracemalloc does not see SimpleITK's C++
  allocations; VmHWM rather than ``ru_maxrss``, which Linux carries over from the parent across
  ``exec``. The largest growth over the repeats is reported.
* Every method must return the same array (checked against lesionview's).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SHAPE = (200, 512, 512)
REPEATS = 3

# Runs inside a fresh interpreter: {method} and {folder} are filled in.
# The children import benchmarks._proc from the repository root.
_ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, os, sys, time
import numpy as np

from benchmarks._proc import status_bytes

method, folder = sys.argv[1], sys.argv[2]
if method == "lesionview":
    from lesionview.io.dicom import scan
    def run():
        (series,) = scan(folder).series
        return series.load().array
elif method == "pydicom loop":
    import glob
    import pydicom
    def run():
        dss = [pydicom.dcmread(f) for f in glob.glob(os.path.join(folder, "*.dcm"))]
        normal = np.cross(*np.reshape(np.asarray(dss[0].ImageOrientationPatient, float), (2, 3)))
        dss.sort(key=lambda ds: float(np.dot(ds.ImagePositionPatient, normal)))
        return np.stack([ds.pixel_array for ds in dss])
elif method == "SimpleITK":
    import SimpleITK as sitk
    def run():
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(folder))
        image = reader.Execute()
        run.keep = image  # the view below needs the image alive
        return sitk.GetArrayViewFromImage(image)
before = status_bytes("VmRSS")
start = time.perf_counter()
array = run()
seconds = time.perf_counter() - start
peak = status_bytes("VmHWM") - before
digest = [int(array.shape[0]), float(np.asarray(array[::7, ::5, ::3], dtype=np.float64).sum()),
          float(np.asarray(array[0], dtype=np.float64).sum())]
print(json.dumps({"seconds": seconds, "peak_bytes": peak, "digest": digest, "dtype": str(array.dtype)}))
"""


def make_series(folder: Path, shape=SHAPE) -> Path:
    """An axial int16 MR series with real-looking headers, one file per slice, in shuffled names."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        from lesionview.io.dicom.write import write_series
    except ImportError:
        write_series = None
    array = _phantom(shape)
    if write_series is not None:
        try:
            from lesionview.geometry import Geometry
            from lesionview.volume import Volume

            write_series(Volume(array, Geometry(shape, (2.0, 0.5, 0.5), (-128.0, -128.0, -200.0))), folder)
            if len(list(folder.glob("*.dcm"))) == shape[0]:
                return folder
        except Exception:  # noqa: BLE001 (fall back to the local generator below)
            for f in folder.iterdir():
                f.unlink()
    _write_local(array, folder)
    return folder


def _phantom(shape) -> np.ndarray:
    rng = np.random.default_rng(0)
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    body = ((y - shape[1] / 2) ** 2 + (x - shape[2] / 2) ** 2 < (0.4 * shape[1]) ** 2) * 800
    return (body + 10 * z + rng.integers(0, 50, size=shape)).astype(np.int16)


def _write_local(array: np.ndarray, folder: Path) -> None:
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

    series_uid, study_uid, frame_uid = generate_uid(), generate_uid(), generate_uid()
    order = np.random.default_rng(1).permutation(array.shape[0])
    for k in range(array.shape[0]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MRImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
        ds.Modality, ds.PatientID, ds.PatientName = "MR", "BENCH", "Bench^Load"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, frame_uid
        ds.SeriesNumber, ds.InstanceNumber, ds.SeriesDescription = 3, k + 1, "AX T2 bench"
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [-128.0, -128.0, -200.0 + 2.0 * k]
        ds.PixelSpacing, ds.SliceThickness = [0.5, 0.5], 2.0
        ds.Rows, ds.Columns = array.shape[1:]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.PixelData = array[k].tobytes()
        ds.save_as(folder / f"IM{order[k]:04d}.dcm", enforce_file_format=True)


def _child(method: str, folder: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", _CHILD, method, str(folder)], cwd=_ROOT,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(workdir: Path) -> list[dict]:
    folder = make_series(Path(workdir) / "series")
    for f in folder.iterdir():  # warm the page cache so no method pays for the first read
        f.read_bytes()
    volume_mb = np.prod(SHAPE) * 2 / 2**20
    results = {}
    for method in ("lesionview", "pydicom loop", "SimpleITK"):
        runs = [_child(method, folder) for _ in range(REPEATS)]
        results[method] = {"seconds": min(r["seconds"] for r in runs),
                           "peak_bytes": max(r["peak_bytes"] for r in runs),
                           "digest": runs[0]["digest"], "dtype": runs[0]["dtype"]}
    reference = results["lesionview"]["digest"]
    fastest_peer = min(results[m]["seconds"] for m in ("pydicom loop", "SimpleITK"))
    rows = []
    for method, r in results.items():
        rows.append({"name": method, "seconds": r["seconds"], "ratio to fastest peer": r["seconds"] / fastest_peer,
                     "peak memory MB": r["peak_bytes"] / 2**20,
                     "peak / volume": r["peak_bytes"] / 2**20 / volume_mb,
                     "dtype": r["dtype"], "same values": np.allclose(r["digest"], reference)})
    return rows


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory(prefix="lesionview-bench-load-") as tmp:
        start = time.perf_counter()
        table = run(Path(tmp))
    cols = list(table[0])
    print(f"{SHAPE[2]}x{SHAPE[1]}x{SHAPE[0]} int16 series, {np.prod(SHAPE) * 2 / 2**20:.0f} MB; "
          f"best of {REPEATS} runs each, fresh process per run")
    print(" | ".join(f"{c:>22}" for c in cols))
    for row in table:
        print(" | ".join(f"{v:>22.3f}" if isinstance(v, float) else f"{v!s:>22}" for v in row.values()))
    print(f"(total {time.perf_counter() - start:.0f} s)")

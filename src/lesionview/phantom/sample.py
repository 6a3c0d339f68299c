"""The sample-data folder of a case: images (NIfTI and DICOM), truth masks, landmarks, truth.json."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import numpy as np

from ..io.atomic import atomic_path
from ..io.nifti import read_nifti, write_nifti
from ..volume import Volume
from .cases import CASES, get_case
from .levels import VertebralLevels
from .renderer import render, render_maps, sagittal_geometry, series_info
from .truth import LEVEL_BODY_NOTE, case_truth, landmarks

#: DICOM folder of each contrast, under <case>/dicom/.
DICOM_FOLDERS = {"T2": "02_SAG_T2_TSE", "T1C": "05_SAG_T1_TSE_C"}
NIFTI_NAMES = {"T2": "t2.nii.gz", "T1C": "t1c.nii.gz"}
MASK_NAMES = ("lesion.nii.gz", "edema.nii.gz", "cord.nii.gz")
TEXT_NAMES = ("landmarks.csv", "landmarks.json", "truth.json")

# Header elements a scanner would write that SeriesInfo does not carry.
_COMMON = {"MagneticFieldStrength": "3", "ImagingFrequency": "123.2", "ImagedNucleus": "1H",
           "InstitutionName": "lesionview phantom", "BodyPartExamined": "CSPINE",
           "ManufacturerModelName": "analytic phantom", "NumberOfAverages": "2", "PatientAge": "056Y",
           "ImageComments": "Synthetic phantom rendered by lesionview.phantom; not patient data"}
_EXTRA = {
    "T2": {**_COMMON, "EchoTrainLength": 17, "FlipAngle": "150", "PixelBandwidth": "260"},
    "T1C": {**_COMMON, "EchoTrainLength": 3, "FlipAngle": "150", "PixelBandwidth": "250",
            "ContrastBolusRoute": "IV", "ContrastBolusVolume": "13", "ContrastBolusTotalDose": "13",
            "ContrastBolusIngredient": "GADOLINIUM", "ContrastBolusIngredientConcentration": "279.3",
            "ContrastBolusStartTime": "102000"},
}


def expected_files(case: str) -> list[str]:
    """Relative paths (files, and DICOM folders) that make up ``<out>/<case>``."""
    return [*NIFTI_NAMES.values(), *MASK_NAMES, *TEXT_NAMES,
            *(f"dicom/{f}" for f in DICOM_FOLDERS.values())]


def missing_files(out: str | os.PathLike, case: str) -> list[str]:
    root = Path(out) / case
    return [name for name in expected_files(case)
            if not ((root / name).is_dir() and any((root / name).iterdir())) and not (root / name).is_file()]


def write_case(case: str, out: str | os.PathLike, *, only_missing: bool = False, force: bool = False) -> list[Path]:
    """Generate ``<out>/<case>``; returns the paths written.

    With ``only_missing`` only absent files are made (nothing is rendered when all are there);
    with ``force`` everything is rewritten; otherwise existing files are an error.
    """
    case = get_case(case).name
    root = Path(out) / case
    todo = missing_files(out, case) if only_missing and not force else expected_files(case)
    if not (only_missing or force):
        present = sorted(set(expected_files(case)) - set(missing_files(out, case)))
        if present:
            raise FileExistsError(f"{root}: already holds {', '.join(present)}; "
                                  "pass --force to rewrite or --only-missing to complete it")
    if not todo:
        return []
    from ..io.dicom.write import write_series

    geometry = sagittal_geometry()
    written: list[Path] = []
    root.mkdir(parents=True, exist_ok=True)
    for contrast in ("T2", "T1C"):
        nifti, folder = NIFTI_NAMES[contrast], f"dicom/{DICOM_FOLDERS[contrast]}"
        if nifti not in todo and folder not in todo:
            continue
        # The NIfTI and the DICOM of a contrast always hold the same pixels: the DICOM is written
        # from the NIfTI that is there (committed, or made on this machine), and a new render
        # rewrites both. Two renders on different CPUs or libm builds can differ by 1 in a few
        # voxels (last-bit differences in exp/sin before rounding to uint16), so completing a
        # pair with a fresh render could make the two files disagree.
        if nifti in todo:
            volume = render(case, geometry, contrast)
            written.append(_deterministic_gzip(write_nifti(volume, root / nifti)))
        else:
            volume = _series_volume(read_nifti(root / nifti), geometry, case, contrast)
        if nifti in todo or folder in todo:
            written.append(write_series(volume, root / folder, extra=_EXTRA[contrast], overwrite=True))
    if any(name in todo for name in MASK_NAMES):
        maps = render_maps(case, geometry)
        for name, array in zip(MASK_NAMES, (maps.lesion_labels, maps.edema, maps.cord)):
            if name in todo:
                written.append(_deterministic_gzip(write_nifti(array, root / name, geometry=geometry)))
    texts = {
        "truth.json": lambda: _json(case_truth(case, spacing=geometry.spacing)),
        # "landmarks" is what lesionview.levels reads; cord points and planes are extra truth.
        "landmarks.json": lambda: _json({"space": "LPS", "coordinate_convention": "LPS, mm",
                                         "note": LEVEL_BODY_NOTE,
                                         "landmarks": [r for r in landmarks() if r["kind"] != "cord"],
                                         "cord_points": [r for r in landmarks() if r["kind"] == "cord"],
                                         "planes": VertebralLevels.phantom().to_json()}),
        "landmarks.csv": _landmarks_csv,
    }
    for name, make in texts.items():
        if name in todo:
            with atomic_path(root / name) as tmp:
                tmp.write_text(make())
            written.append(root / name)
    for path in written:
        if path.is_file():
            path.chmod(0o644)  # atomic writes go through private temporary files
    return written


def _series_volume(nifti: Volume, geometry, case: str, contrast: str) -> Volume:
    """The pixels of a sample NIfTI on the exact sample grid, with the identifiers of a render.

    NIfTI stores its affine in float32; the DICOM headers are written from the exact grid.
    """
    if not nifti.geometry.same_space(geometry, atol_mm=1e-3) or nifti.array.dtype != np.uint16:
        raise FileExistsError(f"{nifti.info.source}: not the sample's {geometry.describe()} uint16 image; "
                              "delete it (or pass --force) to render it again")
    return Volume(nifti.array, geometry, info=series_info(case, contrast))


def _json(data) -> str:
    return json.dumps(data, indent=2) + "\n"


def _landmarks_csv() -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["name", "x", "y", "z", "kind"])
    # One row per name (kind body|disc); the cord-centreline points are in landmarks.json only.
    for row in landmarks():
        if row["kind"] != "cord":
            w.writerow([row["name"], *row["position"], row["kind"]])
    return buf.getvalue()


def _deterministic_gzip(path: Path) -> Path:
    """Zero the gzip header's timestamp so reruns give byte-identical files (git stays clean)."""
    with open(path, "r+b") as fh:
        head = fh.read(10)
        if head[:2] == b"\x1f\x8b" and head[4:8] != b"\0\0\0\0":
            fh.seek(4)
            fh.write(b"\0\0\0\0")
    return path


def default_root() -> Path:
    """``sample_data/`` of a source checkout, else ``$LESIONVIEW_SAMPLE_DATA`` or a user cache folder."""
    env = os.environ.get("LESIONVIEW_SAMPLE_DATA")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[3]
    if (repo / "pyproject.toml").is_file() and os.access(repo, os.W_OK):
        return repo / "sample_data"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lesionview" / "sample_data"


def sample_path(case: str = "twin", *, root: str | os.PathLike | None = None) -> Path:
    """Folder of a sample case, generating whatever is missing first (a few seconds the first time).

    Examples
    --------
    >>> sorted(p.name for p in sample_path("twin").iterdir())[:3]
    ['cord.nii.gz', 'dicom', 'edema.nii.gz']
    """
    root = Path(root) if root is not None else default_root()
    write_case(case, root, only_missing=True)
    return root / get_case(case).name


def check_cases(names) -> list[str]:
    names = list(names) or list(CASES)
    for n in names:
        get_case(n)
    return names


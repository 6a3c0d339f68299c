"""The CLI on bad input of every kind: one clear line and exit 2, or a load that says what it
skipped; never a traceback, never a hang, never exit 70 (a lesionview bug).

Runs ``lesionview.cli.main`` in-process (the same entry point as the script, a fraction of the
cost of a subprocess per case); the script itself is run as a subprocess in test_cli*.py.
"""

from __future__ import annotations

import json
import re
import signal
import sys
from pathlib import Path

import bad_inputs
import numpy as np
import pytest
from fuzzing import time_limit

from lesionview.cli import main
from lesionview.geometry import Geometry
from lesionview.io.nifti import write_nifti

ROOT = Path(__file__).resolve().parents[1]
TWIN = ROOT / "sample_data" / "twin"
CASE_TIMEOUT_S = 60.0


def run_main(*args) -> tuple[int, str, str]:
    """``lesionview ARGS`` in this process: (exit status, stdout, stderr)."""
    from _pytest.capture import MultiCapture, SysCapture

    capture = MultiCapture(in_=None, out=SysCapture(1), err=SysCapture(2))
    old_sigint, old_hook = signal.getsignal(signal.SIGINT), sys.unraisablehook
    capture.start_capturing()
    try:
        with time_limit(CASE_TIMEOUT_S):
            main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        out, err = capture.readouterr()
        capture.stop_capturing()
        signal.signal(signal.SIGINT, old_sigint)   # main() installs its Ctrl-C handling
        sys.unraisablehook = old_hook
    return code, out, err


def assert_refused(code: int, out: str, err: str, *, path: Path, says: str = "") -> None:
    text = " ".join(err.split())
    assert code == 2, f"exit {code}\nstdout: {out[-800:]}\nstderr: {err[-1500:]}"
    assert "Traceback" not in err + out and "internal error" not in err
    assert path.name in text, text
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    if says:
        assert re.search(says, text, re.IGNORECASE), f"{says!r} not in {text!r}"


def assert_loaded(code: int, out: str, err: str, *, says: str = "") -> None:
    assert code == 0, f"exit {code}\nstdout: {out[-800:]}\nstderr: {err[-1500:]}"
    assert "Traceback" not in err + out and "internal error" not in err
    if says:
        text = " ".join((out + err).split())
        assert re.search(says, text, re.IGNORECASE), f"{says!r} not in {text[-3000:]!r}"


# ----------------------------------------------------------------------------- loaders: `info`
@pytest.mark.parametrize("case", bad_inputs.CASES, ids=lambda c: c.name)
def test_info(case, shared_data, tmp_path):
    path = bad_inputs.make(case, tmp_path)
    code, out, err = run_main("info", path)
    if case.expect == "refuse":
        assert_refused(code, out, err, path=path, says=case.says)
    else:
        assert_loaded(code, out, err, says=case.says)


@pytest.mark.parametrize("case", bad_inputs.MASK_CASES, ids=lambda c: c.name)
def test_measure_a_bad_lesion_mask(case, shared_data, tmp_path):
    path = bad_inputs.make(case, tmp_path)
    code, out, err = run_main("measure", path, "--out", tmp_path / "out")
    assert_refused(code, out, err, path=path, says=case.says)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


# ----------------------------------------------------------------------------- measure's other inputs
def _mask_grid() -> Geometry:
    return Geometry((12, 16, 16), (2.0, 1.0, 1.0), (0.0, -8.0, 60.0), np.eye(3))


@pytest.fixture
def mask(tmp_path) -> Path:
    """A small lesion mask with one lesion, on a 2 x 1 x 1 mm axial grid."""
    g = _mask_grid()
    a = np.zeros(g.shape, np.uint8)
    a[4:7, 6:9, 6:9] = 1
    return write_nifti(a, tmp_path / "lesion.nii.gz", geometry=g)


def _text(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    return path


def _image(tmp_path: Path, name: str, array, geometry: Geometry | None = None) -> Path:
    return write_nifti(np.asarray(array), tmp_path / name, geometry=geometry or _mask_grid())


LANDMARKS = {
    "empty": "",
    "header-only": "name,x,y,z\n",
    "text-coordinate": "name,x,y,z\nC5,abc,0,50\nC6,0,0,30\n",
    "nan-coordinate": "name,x,y,z\nC5,nan,0,50\nC6,0,0,30\n",
    "inf-coordinate": "name,x,y,z\nC5,inf,0,50\nC6,0,0,30\n",
    "unknown-name": "name,x,y,z\nQ5,0,0,50\nC6,0,0,30\n",
    "missing-column": "name,x,y\nC5,0,0\nC6,0,0\n",
    "one-landmark": "name,x,y,z\nC5,0,0,50\n",
    "same-place": "name,x,y,z\nC5,0,0,50\nC6,0,0,50\n",
    "wrong-order": "name,x,y,z\nC5,0,0,30\nC6,0,0,50\n",
    "duplicate-name": "name,x,y,z\nC5,0,0,50\nC5,0,0,30\n",
    "binary": b"\x00\xff\xfe\x89PNG\r\n\x1a\n" + bytes(range(256)),
    "json-broken": '{"landmarks": [',
    "json-wrong-shape": '{"landmarks": {"C5": 1}}',
    "json-position-short": '{"landmarks": [{"name": "C5", "position": [1, 2]}, {"name": "C6", "position": [0, 0, 1]}]}',
    "far-outside": "name,x,y,z\nC5,0,0,5000\nC6,0,0,4970\n",
}


@pytest.mark.parametrize("kind", sorted(LANDMARKS))
def test_bad_landmark_files(kind, mask, tmp_path):
    suffix = ".json" if kind.startswith("json") else ".csv"
    path = _text(tmp_path, f"levels-{kind}{suffix}", LANDMARKS[kind])
    code, out, err = run_main("measure", mask, "--levels", path)
    assert_refused(code, out, err, path=path)


LABEL_IMAGES = {
    "all-zero": lambda a: a * 0,
    "fractional": lambda a: a * 2.5,
    "huge-values": lambda a: a * 1000,
    "negative": lambda a: -a,
    "nan": lambda a: np.where(a > 0, np.nan, 0.0),
}


@pytest.mark.parametrize("kind", sorted(LABEL_IMAGES))
@pytest.mark.parametrize("levels_kind", ["auto", "sct-labeled", "sct-discs", "verse", "totalsegmentator"])
def test_bad_level_label_images(kind, levels_kind, mask, tmp_path):
    base = np.zeros(_mask_grid().shape, np.float32)
    base[:, 6:9, 6:9] = 5
    path = _image(tmp_path, f"labels-{kind}.nii.gz", LABEL_IMAGES[kind](base).astype(np.float32))
    code, out, err = run_main("measure", mask, "--levels", path, "--levels-kind", levels_kind)
    assert_refused(code, out, err, path=path)


def _bad_masks(g: Geometry) -> dict:
    lesion = np.zeros(g.shape, np.float32)
    lesion[4:7, 6:9, 6:9] = 1
    other = Geometry((10, 10, 10), (1.0, 1.0, 1.0))
    return {
        "nan": (np.where(lesion > 0, np.nan, 0).astype(np.float32), g, "NaN|not a number|finite"),
        "fractional": (lesion * 0.5, g, "0.5|fraction|binary|integer|label"),
        "negative": (-lesion, g, "negative"),
        "other-grid": (np.zeros(other.shape, np.uint8), other, "grid|space|geometry"),
    }


# Any finite intensity is a valid image: fractions and negatives are bad only in masks.
@pytest.mark.parametrize("role, kind", [(r, k) for r in ("--edema", "--cord", "--image", "--centerline")
                                        for k in ("nan", "fractional", "negative", "other-grid")
                                        if not (r == "--image" and k in ("fractional", "negative"))])
def test_bad_companion_masks(role, kind, mask, tmp_path):
    array, g, says = _bad_masks(_mask_grid())[kind]
    path = _image(tmp_path, f"{role[2:]}-{kind}.nii.gz", array, g)
    code, out, err = run_main("measure", mask, role, path, "--out", tmp_path / "out")
    if role == "--image" and kind == "nan":
        # Float images often hold NaN where a tool masked them: measured, and said.
        assert_loaded(code, out, err, says="NaN")
        json.loads((tmp_path / "out" / "measurements.json").read_text())
    else:
        assert_refused(code, out, err, path=path, says=says)


@pytest.mark.parametrize("kind", ["nan", "fractional", "negative"])
def test_bad_lesion_mask_values(kind, tmp_path):
    array, g, says = _bad_masks(_mask_grid())[kind]
    path = _image(tmp_path, f"lesion-{kind}.nii.gz", array, g)
    code, out, err = run_main("measure", path)
    assert_refused(code, out, err, path=path, says=says)


def test_four_dimensional_lesion_mask(tmp_path):
    import nibabel as nib

    path = tmp_path / "lesion-4d.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4, 3), np.uint8), np.eye(4)), path)
    code, out, err = run_main("measure", path)
    assert_refused(code, out, err, path=path, says="4D")


def test_empty_and_full_masks_are_results_not_errors(tmp_path):
    g = _mask_grid()
    code, out, err = run_main("measure", _image(tmp_path, "empty.nii.gz", np.zeros(g.shape, np.uint8)))
    assert_loaded(code, out, err, says="no .*lesion")
    code, out, err = run_main("measure", _image(tmp_path, "full.nii.gz", np.ones(g.shape, np.uint8)))
    assert_loaded(code, out, err)


# ----------------------------------------------------------------------------- outputs
def test_out_under_a_regular_file(mask, tmp_path):
    blocker = _text(tmp_path, "notes.txt", "a file")
    code, out, err = run_main("measure", mask, "--out", blocker / "sub")
    assert_refused(code, out, err, path=blocker, says="not a folder|is a file")
    code, out, err = run_main("report", mask, "--out", blocker / "sub")
    assert_refused(code, out, err, path=blocker, says="not a folder|is a file")


def test_out_is_a_regular_file(mask, tmp_path):
    blocker = _text(tmp_path, "notes.txt", "a file")
    code, out, err = run_main("measure", mask, "--out", blocker)
    assert_refused(code, out, err, path=blocker, says="file")
    assert blocker.read_text() == "a file"


def test_missing_inputs_and_bad_options(mask, tmp_path):
    missing = tmp_path / "nowhere.nii.gz"
    code, _, err = run_main("measure", missing)
    assert code == 2 and "Traceback" not in err
    code, _, err = run_main("measure", mask, "--connectivity", "7")
    assert code == 2 and "Traceback" not in err
    code, _, err = run_main("report", mask, "--out", tmp_path / "r", "--format", "json,docx")
    assert code == 2 and "docx" in err and "Traceback" not in err


def test_dicom_series_as_the_lesion_mask(shared_data, tmp_path):
    """An image given where a mask belongs: refused, saying why, not measured as 65,000 lesions."""
    series = shared_data / "dicom" / "sagittal_t1_series"
    code, out, err = run_main("measure", series)
    assert_refused(code, out, err, path=series, says="mask|label|lesion")


def test_gzip_corrupt_mask_is_never_measured(shared_data, tmp_path):
    """The issue's example: a damaged mask that still inflates in part used to be measured."""
    data = bytearray((shared_data / "sct_t2" / "t2_fake_lesion_lesion_seg.nii.gz").read_bytes())
    for i in range(len(data) - 40, len(data) - 12, 5):
        data[i] ^= 0x5A
    path = tmp_path / "lesion.nii.gz"
    path.write_bytes(bytes(data))
    code, out, err = run_main("measure", path, "--out", tmp_path / "out")
    assert_refused(code, out, err, path=path)
    assert not (tmp_path / "out").exists()

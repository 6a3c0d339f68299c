"""`lesionview measure` as a user runs it: a subprocess on NIfTI files, JSON + CSV written, bad
input refused with exit 2 and a message naming the file (never a traceback)."""

from __future__ import annotations

import csv
import errno
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import typer
from conftest import need

from lesionview.geometry import Geometry
from lesionview.io import write_nifti
from lesionview.measure.models import LevelSpan

EXIT_BAD_INPUT = 2

# Synthetic study, LPS-stored 1 mm grid, z (axis 2) superior: 40 x 40 x 120 mm.
GRID = Geometry((40, 40, 120), spacing=(1.0, 1.0, 1.0), origin=(-20.0, -20.0, -60.0))
SMALL = ((0.0, 0.0, 0.0), 2.0)  # centre (LPS mm), radius: in C5
LARGE = ((0.0, 0.0, -15.0), 4.0)  # in C6; boxes 8 mm apart edge to edge
CORD_RADIUS, EDEMA_RADIUS, EDEMA_Z = 6.0, 5.0, (-28.0, 12.0)
# Discs every 15 mm, all inside the image: C5 spans (-7.5, 7.5], C6 (-22.5, -7.5].
DISCS = [("C1/C2", 52.5), ("C2/C3", 37.5), ("C3/C4", 22.5), ("C4/C5", 7.5), ("C5/C6", -7.5),
         ("C6/C7", -22.5), ("C7/T1", -37.5), ("T1/T2", -52.5)]
CORD_VALUE, EDEMA_VALUE, LESION_VALUE = 100.0, 150.0, 300.0


def run_cli(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lesionview", "measure", *map(str, args)],
                          check=False, capture_output=True, text=True, timeout=120, cwd=cwd)


def _flat(text: str) -> str:
    """Text without whitespace or rich box characters, so a wrapped path still matches."""
    return re.sub(r"[\s│╭╮╰╯─]", "", text)


def assert_refused(res: subprocess.CompletedProcess, *, names, words=()) -> str:
    """Exit 2, no traceback, every file name and word in the message; returns the message."""
    assert res.returncode == EXIT_BAD_INPUT, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr, res.stderr
    flat = _flat(res.stderr)
    for name in names:
        assert _flat(str(name)) in flat, f"{name!r} not in the message:\n{res.stderr}"
    message = " ".join(re.sub(r"[│╭╮╰╯─]", " ", res.stderr).split())
    for word in words:
        assert word.lower() in message.lower(), f"{word!r} not in the message:\n{res.stderr}"
    return message


def _world():
    idx = np.indices(GRID.shape).reshape(3, -1).T
    return GRID.index_to_world(idx).reshape(*GRID.shape, 3)


def _landmarks_csv(path, rows) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["name", "x", "y", "z"])
        for name, x, y, z in rows:
            writer.writerow([name, x, y, z])


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Two spheres on the cord axis in an edema cylinder in a cord cylinder, a T1 image, discs."""
    d = tmp_path_factory.mktemp("study")
    w = _world()
    sphere = [np.linalg.norm(w - c, axis=-1) <= r for c, r in (SMALL, LARGE)]
    lesions = (sphere[0] | sphere[1]).astype(np.uint8)
    r_xy = np.hypot(w[..., 0], w[..., 1])
    cord = r_xy <= CORD_RADIUS
    z = w[..., 2]
    edema = (r_xy <= EDEMA_RADIUS) & (z > EDEMA_Z[0]) & (z < EDEMA_Z[1]) & (lesions == 0)
    image = np.where(cord, CORD_VALUE, 10.0).astype(np.float32)
    image[edema] = EDEMA_VALUE
    image[lesions.astype(bool)] = LESION_VALUE
    files = {name: d / f"{name}.nii.gz" for name in ("lesions", "edema", "cord")}
    # A T1 post-contrast image by its name (BIDS "ce-" entity): the summary says "enhancing".
    files["image"] = d / "sub-01_ce-gadolinium_T1w.nii.gz"
    write_nifti(lesions, files["lesions"], geometry=GRID)
    write_nifti(edema.astype(np.uint8), files["edema"], geometry=GRID)
    write_nifti(cord.astype(np.uint8), files["cord"], geometry=GRID)
    write_nifti(image, files["image"], geometry=GRID)
    files["levels"] = d / "discs.csv"
    _landmarks_csv(files["levels"], [(n, 0.0, 0.0, z) for n, z in DISCS])
    files["dir"] = d
    files["counts"] = [int(s.sum()) for s in sphere]
    files["cross_section"] = [int((r_xy <= r)[:, :, 0].sum()) for _, r in (SMALL, LARGE)]
    files["cord_section"] = int(cord[:, :, 0].sum())
    return files


def _full_args(s, out):
    return [s["lesions"], "--image", s["image"], "--edema", s["edema"], "--cord", s["cord"],
            "--levels", s["levels"], "--out", out]


@pytest.fixture(scope="module")
def full_run(study):
    out = study["dir"] / "out"
    return run_cli(*_full_args(study, out)), out


# ------------------------------------------------------------------------------ a whole study
def test_full_study_prints_summary_and_writes_json_and_csv(study, full_run):
    res, out = full_run
    assert res.returncode == 0, res.stderr
    data = json.loads((out / "measurements.json").read_text())
    assert (out / "measurements.csv").is_file()
    # The summary line, whatever the terminal wrapped.
    stdout = " ".join(res.stdout.split())
    assert " ".join(data["summary"].split()) in stdout
    assert data["summary"].startswith(
        "Two enhancing intramedullary lesions (adjacent pair) at vertebral levels C5")
    assert "measurements.json" in _flat(res.stdout) and "measurements.csv" in _flat(res.stdout)

    small, large = data["lesions"]  # superior first
    assert (small["id"], large["id"]) == (1, 2)
    assert [small["voxel_count"], large["voxel_count"]] == study["counts"]
    assert small["volume_mm3"] == pytest.approx(study["counts"][0] * GRID.voxel_volume)
    assert large["volume_mm3"] == pytest.approx(study["counts"][1] * GRID.voxel_volume)
    assert small["centroid_lps_mm"] == pytest.approx(SMALL[0], abs=1e-6)
    assert large["centroid_lps_mm"] == pytest.approx(LARGE[0], abs=1e-6)
    assert small["levels"]["first"] == small["levels"]["last"] == "C5"
    assert large["levels"]["first"] == large["levels"]["last"] == "C6"
    assert small["enhancement_ratio"] == pytest.approx(LESION_VALUE / CORD_VALUE)
    assert large["enhancement_ratio"] == pytest.approx(LESION_VALUE / CORD_VALUE)
    # Widest slab of each sphere over the cord's cross-section (straight cord along z).
    for les, section in zip((small, large), study["cross_section"]):
        assert les["cord_occupancy"] == pytest.approx(section / study["cord_section"], rel=0.05)
    assert large["craniocaudal_mm"] == pytest.approx(2 * LARGE[1] + 1)  # voxel boxes, 1 mm each
    assert large["max_diameter_mm"] == pytest.approx(2 * LARGE[1], abs=1.0)
    assert large["axial_long_mm"] == pytest.approx(2 * LARGE[1], abs=1.0)
    assert small["edema_id"] == large["edema_id"] == 1

    (edema,) = data["edema"]
    assert edema["lesion_ids"] == [1, 2]
    assert edema["levels"]["first"] == "C4" and edema["levels"]["last"] == "C7"
    assert edema["longitudinally_extensive"] is True
    m = data["multiplicity"]
    assert m["kind"] == "adjacent pair" and m["count"] == 2
    assert m["pairs"][0]["gap_mm"] == pytest.approx(8.0, abs=0.5)
    # Provenance: every input with its hash.
    hashes = {r["role"]: r["sha256"] for r in data["inputs"]}
    assert set(hashes) == {"lesions", "image", "edema", "cord", "levels"}
    for role, digest in hashes.items():
        assert digest == hashlib.sha256(study[role].read_bytes()).hexdigest(), role


def test_csv_reads_back_as_the_json_numbers(full_run):
    res, out = full_run
    assert res.returncode == 0, res.stderr
    data = json.loads((out / "measurements.json").read_text())
    with open(out / "measurements.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["kind"], r["id"]) for r in rows] == (
        [("lesion", str(les["id"])) for les in data["lesions"]]
        + [("edema", str(ed["id"])) for ed in data["edema"]]
        + [("pair", "") for _ in data["multiplicity"]["pairs"]])

    def same(cell: str, value) -> None:
        if value is None:
            assert cell == ""
        elif isinstance(value, bool):
            assert cell == str(value)
        elif isinstance(value, (int, float)):
            assert float(cell) == value  # repr round-trips exactly
        else:
            assert cell == value

    for row, les in zip(rows, data["lesions"]):
        for key in ("voxel_count", "volume_mm3", "max_diameter_mm", "max_diameter_ibsi_mm",
                    "axial_long_mm", "axial_short_mm", "axial_uncertainty_mm", "craniocaudal_mm",
                    "craniocaudal_along_cord_mm", "cord_occupancy", "enhancement_ratio",
                    "measurable", "edema_id"):
            same(row[key], les[key])
        for axis, value in zip("xyz", les["centroid_lps_mm"]):
            same(row[f"centroid_{axis}_lps_mm"], value)
        first, last = les["levels"]["first"], les["levels"]["last"]
        assert row["levels"] == (first if first == last else f"{first}-{last}")
        same(row["level_count"], les["levels"]["count"])
    for row, ed in zip(rows[len(data["lesions"]):], data["edema"]):
        for key in ("voxel_count", "volume_mm3", "craniocaudal_mm", "craniocaudal_along_cord_mm",
                    "longitudinally_extensive", "length_ratio"):
            same(row[key], ed[key])
        assert row["lesion_ids"].split() == [str(i) for i in ed["lesion_ids"]]
        assert row["levels"] == f"{ed['levels']['first']}-{ed['levels']['last']}"
    (pair_row,), (pair,) = rows[len(data["lesions"]) + len(data["edema"]):], data["multiplicity"]["pairs"]
    assert pair_row["lesion_ids"] == f"{pair['a']} {pair['b']}"
    for key in ("gap_mm", "gap_uncertainty_mm", "gap_craniocaudal_uncertainty_mm", "adjacent",
                "level_distance", "same_edema"):
        same(pair_row[key], pair[key])
    assert {r["multiplicity"] for r in rows[:len(data["lesions"])]} == {data["multiplicity"]["kind"]}


def test_results_get_the_permissions_of_any_new_file(full_run):
    """Written atomically through a temporary file, yet readable as the umask allows (not 0600)."""
    _, out = full_run
    umask = os.umask(0)
    os.umask(umask)
    for name in ("measurements.json", "measurements.csv"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o666 & ~umask, name


def test_existing_results_kept_without_overwrite_and_replaced_with_it(study, full_run, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(full_run[1], out)
    before = {name: (out / name).read_bytes() for name in ("measurements.json", "measurements.csv")}
    res = run_cli(*_full_args(study, out), "--twin-gap", "5")
    assert_refused(res, names=[out], words=["measurements.json", "--overwrite"])
    assert {name: (out / name).read_bytes() for name in before} == before

    res = run_cli(*_full_args(study, out), "--twin-gap", "5", "--overwrite")
    assert res.returncode == 0, res.stderr
    data = json.loads((out / "measurements.json").read_text())
    # An 8 mm gap is no longer adjacent with a 5 mm limit: the new result replaced the old one.
    assert data["parameters"]["twin_gap_mm"] == 5.0 and data["multiplicity"]["kind"] == "multiple"
    assert (out / "measurements.csv").read_bytes() != before["measurements.csv"] or \
        (out / "measurements.json").read_bytes() != before["measurements.json"]
    assert not [p for p in out.iterdir() if p.name not in before], "temporary files left behind"


def test_output_folder_inside_an_input_dicom_folder_is_refused(study, shared_data, tmp_path):
    dicom = tmp_path / "t1_series"
    shutil.copytree(shared_data / "dicom" / "sagittal_t1_series", dicom)
    listing = sorted(p.name for p in dicom.iterdir())
    out = dicom / "results"
    res = run_cli(study["lesions"], "--image", dicom, "--out", out)
    assert_refused(res, names=[out], words=["inside an input folder"])
    assert not out.exists() and sorted(p.name for p in dicom.iterdir()) == listing


def test_output_folder_that_is_a_file_is_refused(study, tmp_path):
    out = tmp_path / "notes.txt"
    out.write_text("not a folder")
    res = run_cli(study["lesions"], "--out", out)
    assert_refused(res, names=[out])
    assert out.read_text() == "not a folder"


# ------------------------------------------------------------------------------ --out: a report set
def _entries(folder: Path) -> dict[str, bytes | None]:
    """Every entry of ``folder``, hidden ones too: its bytes, or None for a folder."""
    return {p.name: None if p.is_dir() else p.read_bytes() for p in folder.iterdir()}


def _measure_here(study, out, **options) -> None:
    """``lesionview measure LESIONS --image IMAGE --out OUT`` in this process."""
    from lesionview.cli.measure import measure_command

    measure_command(study["lesions"], image=study["image"], out=out, **options)


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), OSError(errno.ENOSPC, "No space left on device")],
                         ids=["ctrl-c", "disk-full"])
@pytest.mark.parametrize("old", [True, False], ids=["old-pair", "new-folder"])
def test_a_failure_between_the_json_and_the_csv_leaves_the_old_pair(study, full_run, tmp_path, monkeypatch,
                                                                     exc, old):
    """The JSON is written, then the CSV fails: the old pair stays as it was (never the new JSON
    beside the old CSV), and a new folder stays empty."""
    from lesionview.report import tabular

    out = tmp_path / "out"
    if old:
        shutil.copytree(full_run[1], out)
    before = _entries(out) if old else {}
    json_written = []
    real_json = tabular.write_json
    monkeypatch.setattr(tabular, "write_json", lambda *a, **k: json_written.append(real_json(*a, **k))
                        or json_written[-1])

    def csv_fails(*args, **kwargs):
        raise exc

    monkeypatch.setattr(tabular, "write_csv", csv_fails)
    if isinstance(exc, KeyboardInterrupt):
        with pytest.raises(KeyboardInterrupt):
            _measure_here(study, out, overwrite=old)
    else:
        with pytest.raises(typer.Exit) as stop:            # OutputError: one line, exit 2
            _measure_here(study, out, overwrite=old)
        assert stop.value.exit_code == EXIT_BAD_INPUT
    assert json_written, "the JSON was written before the CSV failed"
    assert _entries(out) == before


def test_json_keeps_the_full_input_paths(study, tmp_path):
    out = tmp_path / "out"
    _measure_here(study, out)
    data = json.loads((out / "measurements.json").read_text())
    paths = {r["role"]: r["path"] for r in data["inputs"]}
    assert paths == {"lesions": str(study["lesions"]), "image": str(study["image"])}
    assert sorted(_entries(out)) == ["measurements.csv", "measurements.json"]


def test_out_holding_a_report_is_refused_or_replaced_whole(study, tmp_path):
    """A report.html of an earlier run would stand beside other numbers: refused, and replaced
    (removed, with a note) under --overwrite; other files stay."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("an earlier report")
    (out / "notes.txt").write_text("mine")
    res = run_cli(study["lesions"], "--out", out)
    assert_refused(res, names=[out], words=["already holds report.html", "--overwrite"])
    assert sorted(_entries(out)) == ["notes.txt", "report.html"]

    res = run_cli(study["lesions"], "--out", out, "--overwrite")
    assert res.returncode == 0, res.stderr
    assert "note: removed the old report.html" in " ".join(res.stderr.split())
    assert sorted(_entries(out)) == ["measurements.csv", "measurements.json", "notes.txt"]
    assert (out / "notes.txt").read_text() == "mine"


def test_a_folder_named_like_an_output_file_is_refused(study, tmp_path):
    out = tmp_path / "out"
    (out / "measurements.csv").mkdir(parents=True)
    res = run_cli(study["lesions"], "--out", out, "--overwrite")
    assert_refused(res, names=[out], words=["holds a folder named measurements.csv"])
    assert sorted(_entries(out)) == ["measurements.csv"] and not any((out / "measurements.csv").iterdir())


def test_empty_mask_is_a_valid_no_lesion_result(study, tmp_path):
    from lesionview.measure import StudyMeasurements

    empty = tmp_path / "empty.nii.gz"
    write_nifti(np.zeros(GRID.shape, np.uint8), empty, geometry=GRID)
    out = tmp_path / "out"
    res = run_cli(empty, "--cord", study["cord"], "--levels", study["levels"],
                  "--image", study["image"], "--out", out)
    assert res.returncode == 0, res.stderr
    assert "No enhancing intramedullary lesion." in res.stdout
    result = StudyMeasurements.model_validate_json((out / "measurements.json").read_text())
    assert result.lesions == []
    assert result.multiplicity.kind.value == "none" and result.multiplicity.count == 0
    assert result.summary == "No enhancing intramedullary lesion."
    with open(out / "measurements.csv", newline="") as fh:
        assert list(csv.DictReader(fh)) == []


# ------------------------------------------------------------------------------ bad input
def _shifted(path, array):
    moved = Geometry(GRID.shape, GRID.spacing, tuple(np.add(GRID.origin, (0.0, 0.0, 2.0))))
    write_nifti(array, path, geometry=moved)
    return path


def _bad_case(kind: str, study, d):
    """Arguments of one bad invocation, and the file names and words its message must hold."""
    s = study
    if kind == "lesion mask on a shifted grid vs --image":
        f = _shifted(d / "shifted_lesions.nii.gz", np.asanyarray(nib.load(s["lesions"]).dataobj))
        return [f, "--image", s["image"]], [f.name], ["space"]
    if kind == "edema mask on a shifted grid":
        f = _shifted(d / "shifted_edema.nii.gz", np.asanyarray(nib.load(s["edema"]).dataobj))
        return [s["lesions"], "--image", s["image"], "--edema", f], [f.name], ["space"]
    if kind == "file name with [brackets]":  # rich markup must not eat "[v2]" from the name
        f = _shifted(d / "lesions[v2].nii.gz", np.asanyarray(nib.load(s["lesions"]).dataobj))
        return [f, "--image", s["image"]], [f.name], ["space"]
    if kind == "binary mask with values 0, 1, 2":
        labels = np.asanyarray(nib.load(s["lesions"]).dataobj).copy()
        labels[:, :, :55][labels[:, :, :55] == 1] = 2
        f = d / "two_labels.nii.gz"
        write_nifti(labels, f, geometry=GRID)
        return [f, "--mask-kind", "binary"], [f.name], ["binary", "2"]
    if kind == "levels CSV with unknown names":
        f = d / "bad_names.csv"
        _landmarks_csv(f, [("C9", 0, 0, 20.0), ("X1", 0, 0, 5.0)])
        return [s["lesions"], "--levels", f], [f.name], ["C9"]
    if kind == "landmarks outside the image":
        f = d / "far_discs.csv"
        _landmarks_csv(f, [(n, 0.0, 0.0, z + 500.0) for n, z in DISCS])
        return [s["lesions"], "--levels", f], [f.name], ["outside"]
    if kind == "missing lesion mask":
        f = d / "no_such_mask.nii.gz"
        return [f], [f.name], ["does not exist"]
    if kind == "missing cord mask":
        f = d / "no_such_cord.nii.gz"
        return [s["lesions"], "--cord", f], [f.name], ["does not exist"]
    if kind == "--connectivity 4":
        return [s["lesions"], "--connectivity", "4"], [], ["6, 18 or 26"]
    raise AssertionError(kind)


BAD = ["lesion mask on a shifted grid vs --image", "edema mask on a shifted grid",
       "file name with [brackets]",
       "binary mask with values 0, 1, 2", "levels CSV with unknown names",
       "landmarks outside the image", "missing lesion mask", "missing cord mask",
       "--connectivity 4"]


@pytest.fixture(scope="module")
def measure_options():
    """Every option `lesionview measure` accepts, from its own --help."""
    res = run_cli("--help")
    return set(re.findall(r"--[a-z][a-z-]*", res.stdout))


@pytest.mark.parametrize("kind", BAD)
def test_bad_input_exits_2_with_a_message_naming_the_file(kind, study, tmp_path, measure_options):
    args, names, words = _bad_case(kind, study, tmp_path)
    out = tmp_path / "out"
    message = assert_refused(run_cli(*args, "--out", out), names=names, words=words)
    assert not out.exists(), "nothing is written for a refused input"
    # A hint must name options that exist (e.g. not "--labels" for "--mask-kind labels").
    unknown = set(re.findall(r"--[a-z][a-z-]*", message)) - measure_options - {"--help"}
    assert not unknown, f"the message names options `measure` does not have: {unknown}\n{message}"


# ------------------------------------------------------------------------------ real data
def test_real_fake_lesion_volume_and_cord_occupancy(shared_data, tmp_path):
    d = shared_data / "sct_t2"
    mask = d / "t2_fake_lesion_lesion_seg.nii.gz"
    res = run_cli(mask, "--cord", d / "t2_fake_lesion_sc_seg.nii.gz",
                  "--image", d / "t2_fake_lesion.nii.gz", "--out", tmp_path)
    assert res.returncode == 0, res.stderr
    data = json.loads((tmp_path / "measurements.json").read_text())
    img = nib.load(mask)
    count = int(np.count_nonzero(np.asanyarray(img.dataobj)))
    (lesion,) = data["lesions"]
    assert lesion["voxel_count"] == count
    voxel_mm3 = float(np.prod(img.header.get_zooms()[:3]))
    assert lesion["volume_mm3"] == pytest.approx(count * voxel_mm3, rel=1e-5)
    assert 0 < lesion["cord_occupancy"] <= 1
    assert lesion["enhancement_ratio"] > 1  # the inserted lesion is hyperintense
    assert data["multiplicity"]["kind"] == "solitary"


def test_real_sct_labelled_cord_gives_the_level_under_the_lesion(shared_data, tmp_path):
    d = shared_data / "sct_t2"
    labelled_img = nib.load(d / "t2_seg-manual_labeled.nii.gz")
    labelled = np.rint(labelled_img.get_fdata()).astype(int)
    # A 3x3x3 lesion (clipped to one level's cord) around the middle voxel of the C4 cord.
    value = 4
    spot = np.argwhere(labelled == value)
    centre = spot[np.argmin(np.linalg.norm(spot - spot.mean(axis=0), axis=1))]
    lesion = np.zeros(labelled.shape, np.uint8)
    box = tuple(slice(c - 1, c + 2) for c in centre)
    lesion[box] = labelled[box] == value
    f = tmp_path / "lesion_on_t2.nii.gz"
    nib.save(nib.Nifti1Image(lesion, nib.load(d / "t2.nii.gz").affine), f)

    res = run_cli(f, "--image", d / "t2.nii.gz", "--cord", d / "t2_seg-manual.nii.gz",
                  "--levels", d / "t2_seg-manual_labeled.nii.gz", "--levels-kind", "sct-labeled",
                  "--out", tmp_path / "out")
    assert res.returncode == 0, res.stderr
    data = json.loads((tmp_path / "out" / "measurements.json").read_text())
    (les,) = data["lesions"]
    assert les["voxel_count"] == int(lesion.sum())
    assert les["levels"]["first"] == les["levels"]["last"] == f"C{value}"
    assert les["levels"]["fractions"] == {f"C{value}": 1.0}
    assert les["levels"]["outside_fraction"] == 0
    assert 0 < les["cord_occupancy"] <= 1
    assert f"C{value}" in " ".join(res.stdout.split())

    # The same lesion with SCT's manual centerline instead of a cord mask: the axis and the
    # length along the cord come from the centerline.
    res = run_cli(f, "--centerline", d / "t2_centerline-manual.nii.gz", "--out", tmp_path / "out2")
    assert res.returncode == 0, res.stderr
    data = json.loads((tmp_path / "out2" / "measurements.json").read_text())
    (les2,) = data["lesions"]
    assert data["parameters"]["axis"] == "cord centerline"
    assert les2["craniocaudal_along_cord_mm"] == pytest.approx(les2["craniocaudal_mm"], abs=1.5)
    assert les2["cord_occupancy"] is None  # no cord mask


# ------------------------------------------------------------------------------ the phantom
SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


@pytest.fixture(scope="module")
def twin():
    folder = SAMPLE / "twin"
    need((folder / "truth.json").is_file(), "sample_data/twin not generated (make sample)")
    return folder, json.loads((folder / "truth.json").read_text())


def _twin_args(folder, out, *extra):
    return [folder / "lesion.nii.gz", "--image", folder / "t1c.nii.gz",
            "--edema", folder / "edema.nii.gz", "--cord", folder / "cord.nii.gz", *extra,
            "--out", out]


def test_phantom_twin_numbers_match_the_truth(twin, tmp_path):
    folder, truth = twin
    res = run_cli(*_twin_args(folder, tmp_path))
    assert res.returncode == 0, res.stderr
    data = json.loads((tmp_path / "measurements.json").read_text())
    assert data["parameters"]["mask_kind"] == "labels"
    assert data["multiplicity"]["kind"] == truth["multiplicity"] == "adjacent pair"
    img = nib.load(folder / "lesion.nii.gz")
    labels = np.asanyarray(img.dataobj)
    voxel_mm3 = float(np.prod(img.header.get_zooms()[:3]))
    row_mm = min(truth["voxel_spacing_mm"].values())
    assert [les["id"] for les in data["lesions"]] == [t["id"] for t in truth["lesions"]]
    for les, t in zip(data["lesions"], truth["lesions"]):
        count = int(np.count_nonzero(labels == t["id"]))
        assert les["voxel_count"] == count
        assert les["volume_mm3"] == pytest.approx(count * voxel_mm3, rel=1e-5)
        assert les["max_diameter_mm"] == pytest.approx(t["max_diameter_mm"], abs=row_mm)
        assert les["edema_id"] == 1 and les["enhancement_ratio"] > 1.5
        assert 0 < les["cord_occupancy"] <= 1
    (pair,) = data["multiplicity"]["pairs"]
    assert pair["gap_mm"] == pytest.approx(truth["gap_between_lesion_surfaces_mm"], abs=row_mm)
    (edema,) = data["edema"]
    assert edema["lesion_ids"] == [1, 2]
    assert edema["craniocaudal_along_cord_mm"] == pytest.approx(
        truth["edema"]["length_along_cord_mm"], abs=3.0)


def test_phantom_twin_levels_from_its_landmarks_csv(twin, tmp_path):
    folder, truth = twin
    res = run_cli(*_twin_args(folder, tmp_path, "--levels", folder / "landmarks.csv"))
    assert res.returncode == 0, res.stderr
    data = json.loads((tmp_path / "measurements.json").read_text())
    got = [f"{les['levels']['first']}-{les['levels']['last']}" for les in data["lesions"]]
    assert got == [f"{t['levels']}-{t['levels']}" for t in truth["lesions"]]  # C5, C6
    (edema,) = data["edema"]
    assert f"{edema['levels']['first']}-{edema['levels']['last']}" == truth["edema"]["levels"]
    assert edema["levels"]["count"] == truth["edema"]["level_count"]
    assert edema["longitudinally_extensive"] is truth["edema"]["longitudinally_extensive"]
    assert data["multiplicity"]["kind"] == "adjacent pair"
    assert data["multiplicity"]["pairs"][0]["level_distance"] == 1
    # 3 mm sagittal slices lie in the axial plane, not across the cord: the axial diameters carry
    # the ±, the lengths along the cord and the levels do not.
    rows, below = printed_table(res.stdout, "Enhancing lesions")
    assert [row["vertebral levels"] for row in rows] == ["C5", "C6"]
    assert all(row["cord segments (est.)"] for row in rows)  # beside them, named by their kind
    assert all("±" not in row["CC mm"] and row["axial mm"].endswith(" ± 3.0") for row in rows)
    assert below == "T2 edema"  # the next table: no caption
    (edema_row,), _ = printed_table(res.stdout, "T2 edema")
    assert edema_row["vertebral levels"] == truth["edema"]["levels"] and "±" not in edema_row["CC mm"]


# ------------------------------------------------------------------------------ thick slices
def printed_table(stdout: str, title: str) -> tuple[list[dict[str, str]], str]:
    """The rows of the printed table ``title`` as {column: cell text}, and the line below it
    (its caption if it has one)."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == title)
    header, rows = None, []
    for i, line in enumerate(lines[start + 1:], start + 1):
        if line.startswith("┃") and header is None:
            header = [c.strip() for c in line.strip("┃ ").split("┃")]
        elif line.startswith("│"):
            rows.append(dict(zip(header, (c.strip() for c in line.strip("│ ").split("│")))))
        elif line.startswith("└"):
            return rows, lines[i + 1].strip() if i + 1 < len(lines) else ""
    raise AssertionError(f"no table {title!r} in:\n{stdout}")


@pytest.fixture(scope="module")
def twin_axial(tmp_path_factory):
    """The twin phantom rendered afresh on 3 mm axial slices (0.5 mm pixels), as NIfTI files."""
    from phantom_grids import twin_axial

    d = tmp_path_factory.mktemp("twin_axial")
    g, maps = twin_axial()
    for name, array in (("lesion", maps.lesion_labels), ("edema", maps.edema), ("cord", maps.cord)):
        write_nifti(array, d / f"{name}.nii.gz", geometry=g)
    shutil.copy(SAMPLE / "twin" / "landmarks.csv", d / "landmarks.csv")
    return d


def test_thick_axial_slices_print_the_craniocaudal_uncertainty(twin_axial, tmp_path):
    """3 mm slices across the cord: each length along the cord reads "9.0 ± 3.0", and a lesion
    whose end may lie in the next level reads "C5 (C6?)", spelt out under the table."""
    d = twin_axial
    res = run_cli(d / "lesion.nii.gz", "--edema", d / "edema.nii.gz", "--cord", d / "cord.nii.gz",
                  "--levels", d / "landmarks.csv", "--out", tmp_path)
    assert res.returncode == 0, res.stderr
    data = json.loads((tmp_path / "measurements.json").read_text())
    # No image given: "Lesions", not "Enhancing lesions" (nothing says they enhance).
    rows, below = printed_table(res.stdout, "Lesions")
    assert len(rows) == len(data["lesions"]) == 2
    for row, les in zip(rows, data["lesions"]):
        unc = les["craniocaudal_uncertainty_mm"]
        assert unc >= 3.0
        assert row["CC mm"] == f"{les['craniocaudal_mm']:.1f} ± {unc:.1f}" == f"{les['craniocaudal_mm']:.1f} ± 3.0"
        assert "±" not in row["axial mm"]  # the axial plane is the slice plane: fine
    # Lesion 1 is in C5, but its lower end may lie in C6, 3 mm below; lesion 2 is in C6 either way.
    assert [row["vertebral levels"] for row in rows] == ["C5 (C6?)", "C6"]
    spans = [LevelSpan.model_validate(les["levels"]) for les in data["lesions"]]
    assert [(s.label, s.possible_label) for s in spans] == [("C5", "C5-C6"), ("C6", None)]
    assert below == ("C5 (C6?): C5, possibly reaching C6: its ends are uncertain by ±3.0 mm along the cord "
                     "(3 mm slices across it)")  # the caption
    (edema,), below = printed_table(res.stdout, "T2 edema")
    assert below.startswith("Two intramedullary")  # no caption: C1-C7 whichever slice its ends lie in
    assert edema["CC mm"] == f"{data['edema'][0]['craniocaudal_mm']:.1f} ± 3.0"
    flat = " ".join(res.stdout.split())
    assert "C5, possibly reaching C6 (maximum diameter 3.0 mm) and C6 (9.0 mm); gap 3.0 ± 3.0 mm." in flat  # the summary
    assert ("slices 3.0 mm thick across the cord: lengths along the cord, gaps and level extents are uncertain "
            "by up to ±3.0 mm") in flat

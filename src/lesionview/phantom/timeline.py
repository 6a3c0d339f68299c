"""The seed patient over time: four separate MRI studies of one patient, with the truth of matches and responses.

=====  ==========  ==========================================================  =========
label  study date  picture                                                     acquired
=====  ==========  ==========================================================  =========
t0     2023-09-12  solitary enhancing lesion L1 at C5-C6 (16 mm), edema C1-C7  sagittal
t1     2023-12-05  after resection: no lesion, residual edema C3-C6            sagittal
t2     2024-06-11  recurrence: L2 at C5 (3 mm), L3 at C6 (11 mm), edema C1-C7  sagittal
t3     2024-10-15  L2 grown (12 mm), L3 shrunk (6 mm), new L4 at C3 (5 mm)     axial
=====  ==========  ==========================================================  =========

t0 is the ``solitary`` case and t2 the ``twin`` case of :mod:`.cases`. Every timepoint is its own study
(StudyInstanceUID, SeriesInstanceUIDs, FrameOfReferenceUID) of the same PatientID. The patient lies
differently at each visit: the anatomy of the *reference frame* (the frame of ``sample_data/twin``) is
moved by a rigid :class:`Pose`, ``world = R @ reference + t``, and each study's grid is planned in
scanner axes (pure sagittal or pure axial) around the moved anatomy, so the images, masks, landmarks and
truth of a study are all in that study's own LPS millimetres.

Patient-level lesion ids ("L1", "L2", ...) are fixed by the timeline, not measured: a lesion keeps its
id while it persists between consecutive studies; a resolved lesion's id is retired, so the recurrence
at the resection site is new (L2, L3), not L1 again.

Examples
--------
>>> [p.label for p in timeline()]
['t0', 't1', 't2', 't3']
>>> [[lid for lid, _ in p.lesions] for p in timeline()]
[['L1'], [], ['L2', 'L3'], ['L4', 'L2', 'L3']]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import sys
import time
import zlib
from dataclasses import dataclass
from functools import cached_property
from itertools import combinations, pairwise
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from ..geometry import Geometry
from ..io.atomic import atomic_path
from ..io.nifti import write_nifti
from ..series import SeriesInfo, with_guessed_role
from ..volume import Volume
from . import renderer, spine
from .anatomy import TISSUES, tissue_fractions
from .cases import CASES, Case, Edema, Lesion
from .levels import Boundary, VertebralLevels
from .sample import _EXTRA, _deterministic_gzip, default_root
from .truth import LEVEL_BODY_NOTE, _section, landmarks, lesion_truth, surface_gap

PATIENT_ID = "LV-PHANTOM-TIMELINE"
PATIENT_NAME = "PHANTOM^TIMELINE"
FOLDER = "timeline"
MASK_NAMES = ("lesion.nii.gz", "edema.nii.gz", "cord.nii.gz")
TEXT_NAMES = ("landmarks.csv", "landmarks.json", "truth.json")
#: RANO-BM (Lin et al., Lancet Oncol 2015;16:e270-e278): measurable = longest diameter >= 10 mm,
#: up to 5 target lesions, progression >= 20 % over the nadir sum, partial response >= 30 % below baseline.
MEASURABLE_MM, MAX_TARGETS, PD_INCREASE, PR_DECREASE = 10.0, 5, 0.20, 0.30
#: A persistent lesion is "grown" / "shrunk" when its longest diameter changes by at least this fraction.
CHANGE_FRACTION = 0.20


@dataclass(frozen=True)
class Pose:
    """Where the patient lies in the scanner: ``world = R @ reference + shift``.

    ``rotation_deg`` are extrinsic rotations about the scanner's L, P and S axes (in that order).
    """

    rotation_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)
    shift_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)

    @cached_property
    def matrix(self) -> np.ndarray:
        return Rotation.from_euler("xyz", self.rotation_deg, degrees=True).as_matrix()

    def apply(self, points) -> np.ndarray:
        """World LPS points of reference points (..., 3)."""
        return np.asarray(points, float) @ self.matrix.T + np.asarray(self.shift_mm)

    def apply_vector(self, vectors) -> np.ndarray:
        return np.asarray(vectors, float) @ self.matrix.T

    def reference_grid(self, world: Geometry) -> Geometry:
        """The grid in the reference frame that samples the anatomy exactly as ``world`` does in the scanner."""
        r = self.matrix
        origin = r.T @ (np.asarray(world.origin) - np.asarray(self.shift_mm))
        return Geometry(world.shape, world.spacing, tuple(origin), r.T @ world.direction_matrix)

    def to_json(self) -> dict:
        return {"rotation_deg_about_lps_xyz": list(self.rotation_deg), "shift_mm": list(self.shift_mm),
                "matrix": np.round(self.matrix, 9).tolist(),
                "rotation_angle_deg": round(math.degrees(Rotation.from_matrix(self.matrix).magnitude()), 4)}


@dataclass(frozen=True)
class TimelinePoint:
    """One study of the timeline: its lesions (patient-level id, shape in the reference frame), edema and pose."""

    label: str
    study_date: str
    title: str
    lesions: tuple[tuple[str, Lesion], ...]  # cranial to caudal: label i + 1 in lesion.nii.gz
    edema: Edema
    pose: Pose
    plane: str  # "sagittal" or "axial"

    @property
    def ids(self) -> list[str]:
        return [lid for lid, _ in self.lesions]

    @cached_property
    def case(self) -> Case:
        n = len(self.lesions)
        multiplicity = {0: "none", 1: "solitary"}.get(n, "adjacent pair" if n == 2 else "multiple")
        return Case(f"timeline-{self.label}", self.title, tuple(les for _, les in self.lesions), self.edema,
                    multiplicity, PATIENT_NAME, PATIENT_ID)

    def _uid(self, *what: str) -> str:
        from pydicom.uid import generate_uid

        return generate_uid(entropy_srcs=["lesionview-phantom", FOLDER, self.label, *what])

    @property
    def study_uid(self) -> str:
        return self._uid("study")

    @property
    def frame_of_reference_uid(self) -> str:
        return self._uid("frame of reference")

    @cached_property
    def geometry(self) -> Geometry:
        """The study's grid in world (scanner) LPS mm, planned around the moved anatomy.

        Sagittal: the sample's 13 x 3 mm slices of 0.5 mm pixels; axial: 67 x 3 mm slices of 160 x 160
        pixels of 0.5 mm (C1 to T2). The stack is shifted along the slice normal so that a slice goes through
        the centre of the smallest lesion: with 3 mm slices a 3 mm lesion could otherwise fall between two.
        """
        if self.plane == "sagittal":
            ref = renderer.sagittal_geometry()
            direction, shape, spacing = ref.direction_matrix, ref.shape, ref.spacing
            centre = ref.index_to_world((np.array(shape) - 1) / 2)
        else:  # rows posterior, columns left, slices superior: ImageOrientationPatient 1\0\0\0\1\0
            direction = np.array([[0.0, 0, 1], [0, 1, 0], [1, 0, 0]]).T
            shape, spacing, centre = (67, 160, 160), (3.0, 0.5, 0.5), np.array([0.0, 0.0, -5.0])
        centre = self.pose.apply(centre)
        normal = direction[:, 0]
        if self.lesions:
            smallest = min((les for _, les in self.lesions), key=lambda les: les.max_diameter)
            off = float((self.pose.apply(smallest.centre) - centre) @ normal)
            centre = centre + normal * (off - spacing[0] * round(off / spacing[0]))
        origin = centre - direction @ ((np.array(shape) - 1) / 2 * np.array(spacing))
        return Geometry(shape, spacing, tuple(origin), direction)

    @cached_property
    def levels(self) -> VertebralLevels:
        """The phantom's level boundaries in this study's world coordinates."""
        return VertebralLevels(tuple(Boundary(b.name, tuple(map(float, self.pose.apply(b.point))),
                                              tuple(map(float, self.pose.apply_vector(b.normal))))
                                     for b in VertebralLevels.phantom().boundaries))

    def landmarks(self) -> list[dict]:
        """:func:`.truth.landmarks` moved into this study's world coordinates."""
        return [{**r, "position": [round(float(v), 4) for v in self.pose.apply(r["position"])]} for r in landmarks()]

    @cached_property
    def truth(self) -> dict:
        return point_truth(self)


def timeline() -> tuple[TimelinePoint, ...]:
    """The seed case's four studies, in date order (see the module docstring)."""
    (l1,), (l2, l3) = CASES["solitary"].lesions, CASES["twin"].lesions
    return (
        TimelinePoint("t0", "20230912", "Solitary enhancing intramedullary lesion C5-C6 with edema C1-C7",
                      (("L1", l1),), CASES["solitary"].edema, Pose((1.5, 0.0, -1.0), (2.0, -4.0, 6.0)), "sagittal"),
        TimelinePoint("t1", "20231205", "After resection: no enhancing lesion, residual edema C3-C6", (),
                      Edema(top=42.0, bottom=108.0, s_peak=90.0, peak=0.6), Pose((-2.5, 1.5, 2.0), (-8.0, 6.0, -6.0)),
                      "sagittal"),
        TimelinePoint("t2", "20240611", "Recurrence: twin enhancing lesions C5 (3 mm) and C6 (11 mm), edema C1-C7",
                      (("L2", l2), ("L3", l3)), CASES["twin"].edema, Pose((3.0, -1.5, 3.0), (6.0, 8.0, 12.0)),
                      "sagittal"),
        TimelinePoint("t3", "20241015", "C5 lesion grown, C6 lesion shrunk, new lesion at C3; edema C1-C7",
                      (("L4", Lesion(s=45.0, a=0.5, x=-0.5, semi_axes=(2.5, 2.0, 2.2))),
                       ("L2", Lesion(s=86.5, a=-0.3, x=0.6, semi_axes=(6.0, 2.6, 2.8))),
                       ("L3", Lesion(s=102.5, a=-0.3, x=-0.4, semi_axes=(3.0, 2.0, 2.2)))),
                      Edema(top=6.0, bottom=125.0, s_peak=92.0), Pose((-1.5, 2.0, -2.5), (-4.0, -8.0, -2.0)), "axial"),
    )


#: The name the shared issue-13 interface uses.
timeline_studies = timeline


# ----------------------------------------------------------------------------- truth
def _lesion_truth(point: TimelinePoint, label: int, lid: str, lesion: Lesion) -> dict:
    """:func:`.truth.lesion_truth` in the study's world frame (levels do not depend on the pose)."""
    t = lesion_truth(lesion, label, VertebralLevels.phantom())
    r = point.pose.matrix
    z_long, z_short = _section(lesion, r.T @ [0, 0, 1.0])
    semi = sorted(lesion.semi_axes, reverse=True)
    return {"id": label, "lesion_id": lid, **t,
            "centre_lps_mm": np.round(point.pose.apply(lesion.centre), 4).tolist(),
            "centre_reference_lps_mm": t["centre_lps_mm"],
            "axes_lps": {k: np.round(point.pose.apply_vector(v), 6).tolist() for k, v in t["axes_lps"].items()},
            "cord_tangent_lps": np.round(point.pose.apply_vector(t["cord_tangent_lps"]), 6).tolist(),
            "true_axial_long_diameter_mm": round(z_long, 4), "true_axial_perpendicular_diameter_mm": round(z_short, 4),
            "z_extent_mm": round(float(2 * np.sqrt((r @ np.linalg.inv(lesion.quadric()) @ r.T)[2, 2])), 4),
            "longest_diameter_mm": 2 * semi[0], "perpendicular_diameter_mm": 2 * semi[1],
            "measurable": 2 * semi[0] >= MEASURABLE_MM}


def point_truth(point: TimelinePoint) -> dict:
    """The truth of one study, like ``sample_data/twin/truth.json`` but in this study's world frame."""
    ref = VertebralLevels.phantom()
    lesions = [_lesion_truth(point, i, lid, les) for i, (lid, les) in enumerate(point.lesions, start=1)]
    ends_ref = spine.centreline_point(np.array([point.edema.top, point.edema.bottom]))
    ends = point.pose.apply(ends_ref)
    edema_levels = ref.span(ends_ref)
    truth = {
        "case": f"{FOLDER}/{point.label}", "label": point.label, "title": point.title,
        "patient_id": PATIENT_ID, "study_date": point.study_date, "study_uid": point.study_uid,
        "frame_of_reference_uid": point.frame_of_reference_uid, "acquisition_plane": point.plane,
        "coordinate_convention": "LPS, mm (DICOM patient coordinates: +x left, +y posterior, +z superior) of this "
                                 "study; *_reference_* values are in the reference frame of sample_data/twin",
        "pose": {**point.pose.to_json(), "convention": "world = matrix @ reference + shift_mm"},
        "lesions": lesions, "lesion_count": len(lesions), "multiplicity": point.case.multiplicity,
        "edema": {"levels": edema_levels, "level_count": ref.count(edema_levels),
                  "longitudinally_extensive": ref.count(edema_levels) >= 3,
                  "length_along_cord_mm": point.edema.bottom - point.edema.top,
                  "top_lps_mm": ends[0].round(4).tolist(), "bottom_lps_mm": ends[1].round(4).tolist(),
                  "note": "T2-hyperintense cord signal; confined to the cord"},
        "level_rule": "a point's level is the one whose two boundary planes (through each disc centre, "
                      "perpendicular to the cord centreline) enclose it; see landmarks.json 'planes'",
        "voxel_spacing_mm": dict(zip(("slice", "row", "column"), point.geometry.spacing)),
    }
    if len(point.lesions) >= 2:
        truth["gaps_between_lesion_surfaces_mm"] = {
            f"{a}-{b}": round(surface_gap(la, lb), 4) for (a, la), (b, lb) in combinations(point.lesions, 2)}
    return truth


def _size(lesion: Lesion) -> tuple[float, float]:
    return lesion.max_diameter, 4 / 3 * math.pi * math.prod(lesion.semi_axes)


def _change(before: Lesion, after: Lesion) -> dict:
    (d0, v0), (d1, v1) = _size(before), _size(after)
    ratio = d1 / d0 - 1
    kind = "grown" if ratio >= CHANGE_FRACTION else "shrunk" if ratio <= -CHANGE_FRACTION else "stable"
    return {"class": kind, "diameter_mm": [d0, d1], "diameter_change_mm": round(d1 - d0, 4),
            "diameter_change_percent": round(100 * ratio, 2), "volume_mm3": [round(v0, 3), round(v1, 3)],
            "volume_change_mm3": round(v1 - v0, 3), "volume_change_percent": round(100 * (v1 / v0 - 1), 2),
            "displacement_reference_mm": round(float(np.linalg.norm(after.centre - before.centre)), 4)}


def _interval(a: TimelinePoint, b: TimelinePoint) -> dict:
    before, after = dict(a.lesions), dict(b.lesions)
    ref = VertebralLevels.phantom()
    ea, eb = (ref.span(spine.centreline_point(np.array([p.edema.top, p.edema.bottom]))) for p in (a, b))
    return {"from": a.label, "to": b.label,
            "new": [i for i in b.ids if i not in before], "resolved": [i for i in a.ids if i not in after],
            "persistent": [{"id": i, **_change(before[i], after[i])} for i in a.ids if i in after],
            "merged": [], "split": [],
            "edema": {"levels": [ea, eb], "level_count_change": ref.count(eb) - ref.count(ea),
                      "length_along_cord_change_mm": (b.edema.bottom - b.edema.top) - (a.edema.bottom - a.edema.top)}}


def _classify(total: float, reference: float | None, *, gone: bool, new: bool, pr_reference: float | None = None):
    """RANO-BM class of a timepoint; PD is judged against ``reference``, PR against ``pr_reference``."""
    pr_reference = reference if pr_reference is None else pr_reference
    if gone:
        return "CR"
    if new or (reference is not None and (total > 0 if reference == 0 else total >= (1 + PD_INCREASE) * reference)):
        return "PD"
    if pr_reference and total <= (1 - PR_DECREASE) * pr_reference:
        return "PR"
    return "SD"


def _percent(total: float, reference: float) -> float | None:
    return None if reference == 0 else round(100 * (total / reference - 1), 2)


def responses(points=None) -> list[dict]:
    """RANO-BM response of each timepoint against the baseline (the first) and the nadir (smallest earlier sum)."""
    points = list(points or timeline())
    sums, out = [], []
    for k, p in enumerate(points):
        diam = sorted(((les.max_diameter, lid) for lid, les in p.lesions if les.max_diameter >= MEASURABLE_MM),
                      reverse=True)[:MAX_TARGETS]
        total = float(sum(d for d, _ in diam))
        row = {"label": p.label, "target_lesions": [lid for _, lid in diam], "sum_longest_diameters_mm": total,
               "lesion_ids": p.ids, "new_lesions": [] if k == 0 else [i for i in p.ids if i not in points[k - 1].ids]}
        if k == 0:
            row.update(response="baseline", response_vs_baseline="baseline", response_vs_nadir="baseline")
        else:
            base, nadir = sums[0], min(sums)
            gone, new = not p.lesions, bool(row["new_lesions"])
            row.update(baseline_sum_mm=base, nadir_sum_mm=nadir, nadir_label=points[sums.index(nadir)].label,
                       change_from_baseline_percent=_percent(total, base), change_from_nadir_percent=_percent(total, nadir),
                       response=_classify(total, nadir, gone=gone, new=new, pr_reference=base),
                       response_vs_baseline=_classify(total, base, gone=gone, new=new),
                       response_vs_nadir=_classify(total, nadir, gone=gone, new=new))
        sums.append(total)
        out.append(row)
    return out


def timeline_truth() -> dict:
    """The patient-level truth: timepoints, lesions by patient-level id, per-interval matches, responses."""
    points = timeline()
    lesions: dict[str, dict] = {}
    for p in points:
        for t in p.truth["lesions"]:
            lesions.setdefault(t["lesion_id"], {})[p.label] = {
                k: t[k] for k in ("id", "centre_lps_mm", "centre_reference_lps_mm", "levels", "max_diameter_mm",
                                  "volume_mm3", "measurable")}
    return {
        "patient_id": PATIENT_ID, "title": "The seed case over time: resection, then recurrence",
        "timepoints": [{"label": p.label, "folder": p.label, "study_date": p.study_date, "study_uid": p.study_uid,
                        "frame_of_reference_uid": p.frame_of_reference_uid, "acquisition_plane": p.plane,
                        "title": p.title, "lesion_ids": p.ids, "edema_levels": p.truth["edema"]["levels"],
                        "pose": p.pose.to_json()} for p in points],
        "lesions": lesions,
        "intervals": [_interval(a, b) for a, b in pairwise(points)],
        "response": {
            "criteria": "RANO-BM (Lin et al., Lancet Oncol 2015;16:e270-e278); no response criteria are published "
                        "for intramedullary spinal metastases",
            "rules": {"measurable": f"longest (maximum 3D) diameter >= {MEASURABLE_MM:g} mm",
                      "targets": f"up to {MAX_TARGETS} measurable lesions present at the timepoint, largest first",
                      "CR": "no lesion left", "PD": "a new lesion, or sum >= 20 % over the nadir (any sum > 0 "
                      "when the nadir is 0)", "PR": "sum >= 30 % below baseline", "SD": "otherwise",
                      "nadir": "smallest sum of the earlier timepoints, baseline included",
                      "response": "PD against the nadir, PR against the baseline (RANO-BM)",
                      "response_vs_baseline / response_vs_nadir": "all thresholds against that one reference"},
            "note": "Every measurable lesion here also has a perpendicular diameter >= 5 mm. Not modelled: "
                    "confirmation scans, corticosteroid dose, clinical status.",
            "timepoints": responses(points)},
        "change_rule": f"persistent lesion grown / shrunk: longest diameter +/- {100 * CHANGE_FRACTION:g} % or more",
        "id_rule": "a lesion keeps its id while it persists between consecutive studies; ids of resolved lesions "
                   "are not reused",
    }


# ----------------------------------------------------------------------------- rendering
def _maps(point: TimelinePoint, reference: Geometry) -> renderer.PhantomMaps:
    """:func:`.renderer.render_maps` for a timepoint's own case.

    Written out here because the renderer caches the anatomy by the name of a case in ``CASES``, and
    the timeline's cases (their own edema) are not registered there.
    """
    filtered, centre = renderer._integrate(lambda p: tissue_fractions(p, point.edema), reference, (0, 0, 0),
                                           reference.shape, renderer.ANATOMY_STEP, dtype=np.float32,
                                           centre_keys=("cord_occupancy", "edema_occupancy"))
    cord = centre["cord_occupancy"] >= 0.5
    edema = (centre["edema_occupancy"] >= 0.5) & cord
    labels = np.zeros(reference.shape, np.uint8)
    fractions = []
    for i, (frac, inside) in enumerate(renderer.lesion_fractions(point.case, reference), start=1):
        labels[inside & cord] = i
        fractions.append(frac)
    return renderer.PhantomMaps(reference, {k: filtered[k] for k in TISSUES if k in filtered}, tuple(fractions),
                                labels, edema.astype(np.uint8), cord.astype(np.uint8))


def _image(point: TimelinePoint, maps: renderer.PhantomMaps, contrast: str) -> Volume:
    """The image of :func:`.renderer.render` from ready maps, in the study's world grid.

    Tissue texture moves with the patient (reference positions); the coil's shading stays with the
    scanner (world positions).
    """
    table, world = renderer.INTENSITY[contrast], point.geometry
    index = np.stack(np.indices(world.shape), -1).astype(np.float32)
    texture = renderer._texture(maps.geometry.index_to_world(index).astype(np.float32))
    image = np.zeros(world.shape, np.float32)
    for tissue, f in maps.fractions.items():
        value = table[tissue] * (1 + renderer._TEXTURE[tissue] * texture) if tissue in renderer._TEXTURE else table[tissue]
        image += f * value
    total = np.clip(sum(maps.lesions, np.zeros(world.shape, np.float32)), 0, 1)
    image = image * (1 - total) + table["lesion"] * total
    image *= renderer.bias_field(world.index_to_world(index).astype(np.float32))
    rng = np.random.default_rng(zlib.crc32(f"{FOLDER}/{point.label}/{contrast}".encode()))
    sigma = renderer.NOISE_SIGMA[contrast]
    real = image + rng.normal(0, sigma, image.shape).astype(np.float32)
    imag = rng.normal(0, sigma, image.shape).astype(np.float32)
    array = np.clip(np.rint(np.sqrt(real * real + imag * imag)), 0, 65535).astype(np.uint16)
    return Volume(array, world, info=series_info(point, contrast))


def series_folders(point: TimelinePoint) -> dict[str, str]:
    """DICOM folder of each contrast under ``<timepoint>/dicom/``."""
    tag = "SAG" if point.plane == "sagittal" else "AX"
    return {"T2": f"02_{tag}_T2_TSE", "T1C": f"05_{tag}_T1_TSE_C"}


def series_info(point: TimelinePoint, contrast: str) -> SeriesInfo:
    params = dict(renderer.SERIES[contrast])
    if point.plane == "axial":
        params["series_description"] = params["series_description"].replace("SAG", "AX")
        params["protocol_name"] = params["protocol_name"].replace("_sag", "_tra")
    info = SeriesInfo(
        source=f"lesionview phantom {FOLDER}/{point.label}", patient_id=PATIENT_ID, patient_name=PATIENT_NAME,
        patient_birth_date="19680412", study_uid=point.study_uid, study_date=point.study_date,
        study_description="MRI CERVICAL SPINE W/WO CONTRAST", series_uid=point._uid(contrast), modality="MR",
        manufacturer="lesionview phantom", acquisition_date=point.study_date,
        acquisition_time="101500" if contrast == "T2" else "103000", **params)
    return with_guessed_role(info)


# ----------------------------------------------------------------------------- files
def expected_files(point: TimelinePoint) -> list[str]:
    """Relative paths (files, and DICOM folders) that make up a timepoint's folder."""
    return [*MASK_NAMES, *TEXT_NAMES, *(f"dicom/{f}" for f in series_folders(point).values())]


def missing_files(folder: str | os.PathLike, point: TimelinePoint) -> list[str]:
    root = Path(folder)
    return [n for n in expected_files(point)
            if not (root / n).is_file() and not ((root / n).is_dir() and any((root / n).iterdir()))]


def _json(data) -> str:
    return json.dumps(data, indent=2) + "\n"


def _landmarks_csv(point: TimelinePoint) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["name", "x", "y", "z", "kind"])
    for row in point.landmarks():
        if row["kind"] != "cord":
            w.writerow([row["name"], *row["position"], row["kind"]])
    return buf.getvalue()


def _write_text(path: Path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    path.chmod(0o644)  # atomic writes go through private temporary files
    return path


def write_point(point: TimelinePoint, folder: str | os.PathLike, *, only_missing: bool = False) -> list[Path]:
    """Write one study into ``folder``: DICOM series, masks, landmarks and truth, all in its world frame.

    Any :class:`TimelinePoint` works, e.g. ``dataclasses.replace(point, pose=Pose((8, 0, 0), (0, 0, 30)))``
    to test a comparison against other poses. With ``only_missing`` only absent files are made.
    """
    from ..io.dicom.write import write_series

    folder = Path(folder)
    todo = missing_files(folder, point) if only_missing else expected_files(point)
    if not todo:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    dicom = {c: f"dicom/{f}" for c, f in series_folders(point).items()}
    if any(n in todo for n in (*MASK_NAMES, *dicom.values())):
        maps = _maps(point, point.pose.reference_grid(point.geometry))
        for contrast, name in dicom.items():
            if name in todo:
                written.append(write_series(_image(point, maps, contrast), folder / name,
                                            frame_of_reference_uid=point.frame_of_reference_uid,
                                            extra=_EXTRA[contrast], overwrite=True))
        for name, array in zip(MASK_NAMES, (maps.lesion_labels, maps.edema, maps.cord)):
            if name in todo:
                path = _deterministic_gzip(write_nifti(array, folder / name, geometry=point.geometry))
                path.chmod(0o644)
                written.append(path)
    marks = point.landmarks()
    texts = {"truth.json": lambda: _json(point.truth),
             "landmarks.json": lambda: _json({
                 "space": "LPS", "coordinate_convention": "LPS, mm", "note": LEVEL_BODY_NOTE,
                 "landmarks": [r for r in marks if r["kind"] != "cord"],
                 "cord_points": [r for r in marks if r["kind"] == "cord"], "planes": point.levels.to_json()}),
             "landmarks.csv": lambda: _landmarks_csv(point)}
    return written + [_write_text(folder / n, make()) for n, make in texts.items() if n in todo]


def write_timeline(out: str | os.PathLike, *, only_missing: bool = False) -> list[Path]:
    """Write ``<out>/timeline/t0..t3/`` (:func:`write_point`) and ``<out>/timeline/truth.json``.

    ``out`` is the sample-data root (``sample_data``). With ``only_missing`` only absent files are made
    (nothing is rendered when all are there); otherwise everything is rewritten. Returns the paths written.
    """
    root = Path(out) / FOLDER
    written: list[Path] = []
    for point in timeline():
        written += write_point(point, root / point.label, only_missing=only_missing)
    if not only_missing or not (root / "truth.json").is_file():
        root.mkdir(parents=True, exist_ok=True)
        written.append(_write_text(root / "truth.json", _json(timeline_truth())))
    return written


def timeline_path(root: str | os.PathLike | None = None) -> Path:
    """``sample_data/timeline``, generating whatever is missing first (under a minute the first time)."""
    root = Path(root) if root is not None else default_root()
    write_timeline(root, only_missing=True)
    return root / FOLDER


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the timeline sample (sample_data/timeline).")
    parser.add_argument("--out", type=Path, default=Path("sample_data"), help="sample-data root (default sample_data)")
    parser.add_argument("--only-missing", action="store_true", help="only make files that are absent")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    written = write_timeline(args.out, only_missing=args.only_missing)
    if written:
        print(f"{FOLDER}: wrote {len(written)} item(s) in {time.perf_counter() - start:.1f} s")
    else:
        print(f"timeline sample complete in {args.out / FOLDER}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

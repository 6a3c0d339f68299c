"""Typed results of a longitudinal comparison: one patient's studies over time, units in names.

A :class:`Comparison` holds the timepoints (ordered by study date), the alignment of each interval
(consecutive timepoints), every lesion with its patient-level id ("L1", "L2", ...) and its
measurements at each timepoint, the per-interval classes (new, resolved, grown, shrunk, stable,
merged, split) and the RANO-BM response at each timepoint. Serialises to JSON like
:class:`~lesionview.measure.models.StudyMeasurements`; the published schema is
``schema/comparison.v1.schema.json`` (:mod:`lesionview.compare.schema`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from .. import __version__

Point = tuple[float, float, float]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ChangeClass(StrEnum):
    """What became of a lesion over one interval."""

    NEW = "new"
    RESOLVED = "resolved"
    GROWN = "grown"
    SHRUNK = "shrunk"
    STABLE = "stable"
    MERGED = "merged"
    SPLIT = "split"
    NOT_MATCHED = "not matched"   # the interval's alignment was refused: no claim either way


class ResponseClass(StrEnum):
    """RANO-BM radiological response (Lin et al., Lancet Oncol 2015;16:e270-e278)."""

    BASELINE = "baseline"
    CR = "complete response"
    PR = "partial response"
    SD = "stable disease"
    PD = "progressive disease"
    NON_CR_NON_PD = "non-CR/non-PD"   # no target (measurable) lesion at baseline, lesions remain
    NE = "not evaluable"


class Timepoint(_Model):
    index: int = Field(ge=0, description="0 = baseline, in study-date order.")
    label: str = Field(description="What the user calls the study ('t0', 'ses-02', folder name).")
    study_date: str = Field("", description="DICOM DA 'YYYYMMDD', or '' when unknown.")
    study_uid: str = ""
    lesion_count: int = Field(ge=0)


class Alignment(_Model):
    """How the later study of an interval was brought into the earlier study's frame."""

    earlier: str = Field(description="Label of the earlier timepoint (the fixed frame).")
    later: str = Field(description="Label of the later timepoint (the moved study).")
    method: str = Field(description="'rigid registration' (SimpleITK, initialised from the levels or the cord), "
                                    "'level landmarks' (rigid fit of matching level names alone), "
                                    "'level coordinate' (1-D position along the cord, level plus fraction) "
                                    "or 'none'.")
    initialisation: str = Field("", description="What the registration started from: 'level landmarks', "
                                                "'cord', or ''.")
    residual_mm: float | None = Field(
        None, ge=0, description="RMS distance after alignment of the matched level landmarks (residual_kind "
                                "'level landmarks'), or of the later cord centerline to the earlier one "
                                "('cord centerline'); None when nothing could measure it.")
    residual_kind: str = ""
    landmarks_used: int = Field(0, ge=0, description="Level landmarks present in both studies.")
    rotation_deg: float | None = Field(None, description="Rotation angle of the rigid transform.")
    translation_mm: Point | None = Field(None, description="Translation of the rigid transform (LPS).")
    matrix_lps: list[list[float]] | None = Field(
        None, description="The rigid transform as a 4x4 homogeneous matrix (rows; last row 0 0 0 1; rotation "
                          "and translation_mm in mm): it maps points of the later study's LPS frame into the "
                          "earlier study's LPS frame, x_earlier = M @ [x_later, 1]. None when the alignment was "
                          "not accepted or when only the level-coordinate fallback was used.")
    accepted: bool = Field(description="False: the alignment was too poor to match lesions (see reason).")
    reason: str = Field("", description="Why the alignment was refused, or which fallback was used.")


class Observation(_Model):
    """One patient lesion at one timepoint (a lesion of that study's measurements)."""

    timepoint: str
    lesion_id: int = Field(description="Id of the lesion in that study's measurements.")
    centroid_lps_mm: Point = Field(description="In that study's own frame of reference.")
    max_diameter_mm: float = Field(description="Calibrated maximum 3D diameter.")
    axial_long_mm: float = Field(description="Longest diameter perpendicular to the cord (the perpendicular "
                                             "diameter of RANO-BM measurability).")
    axial_short_mm: float
    axial_uncertainty_mm: float | None = None
    volume_mm3: float
    levels: str | None = Field(None, description="Vertebral levels spanned, e.g. 'C5-C6'.")
    level_coordinate: float | None = Field(
        None, description="Position along the spine: level n spans n-0.5 (disc above) to n+0.5 (disc below); "
                          "C1 = 1, C5 = 5, T1 = 8.")
    measurable: bool = Field(description="RANO-BM measurable: LD >= 10 mm, perpendicular >= 5 mm, on >= 2 "
                                         "axial slices.")


class PatientLesion(_Model):
    id: str = Field(description="Patient-level id, stable across time: 'L1', 'L2', ...")
    first_seen: str
    target: bool = Field(description="RANO-BM target lesion (measurable at baseline, one of the 5 largest).")
    observations: list[Observation]


class LesionChange(_Model):
    """A patient lesion over one interval."""

    lesion: str = Field(description="Patient-level id.")
    change: ChangeClass
    earlier_lesion_id: int | None = None
    later_lesion_id: int | None = None
    distance_mm: float | None = Field(None, ge=0, description="Centroid distance after alignment (mm), or along "
                                                              "the cord with the level-coordinate fallback.")
    dice: float | None = Field(None, ge=0, le=1, description="Overlap of the aligned masks.")
    diameter_change_mm: float | None = Field(
        None, description="Change of the maximum 3D diameter (max_diameter_mm), which decides grown / shrunk.")
    diameter_change_percent: float | None = None
    axial_long_change_mm: float | None = Field(None, description="Change of axial_long_mm.")
    axial_long_change_percent: float | None = None
    volume_change_mm3: float | None = None
    volume_change_percent: float | None = None
    related: list[str] = Field(default_factory=list,
                               description="merged: the lesion it merged into; split: the lesion it split from.")


class Interval(_Model):
    earlier: str
    later: str
    accepted: bool = Field(description="Lesions were matched (the alignment was accepted).")
    changes: list[LesionChange]


class EdemaExtent(_Model):
    levels: str | None = Field(None, description="Vertebral levels spanned by all edema, e.g. 'C1-C7'.")
    level_count: int = Field(0, ge=0)
    along_cord_mm: float | None = Field(None, ge=0, description="Summed length along the cord of the edema "
                                                                "regions (craniocaudal_along_cord_mm).")


class Response(_Model):
    """RANO-BM response at one timepoint (radiological part only: no steroid or clinical status)."""

    timepoint: str
    response: ResponseClass = Field(description="RANO-BM: progression from the nadir, partial response from "
                                                "the baseline.")
    response_vs_baseline: ResponseClass | None = Field(None, description="Every threshold against the baseline.")
    response_vs_nadir: ResponseClass | None = Field(None, description="Every threshold against the nadir.")
    target_lesions: list[str] = Field(default_factory=list)
    sum_longest_diameters_mm: float | None = Field(None, ge=0, description="Sum of target-lesion LDs.")
    baseline_sum_mm: float | None = None
    nadir_sum_mm: float | None = Field(None, description="Smallest sum before this timepoint (baseline included).")
    nadir_timepoint: str | None = None
    change_from_baseline_percent: float | None = None
    change_from_nadir_percent: float | None = None
    new_lesions: list[str] = Field(default_factory=list)
    edema: EdemaExtent | None = None
    edema_level_change_from_baseline: int | None = None
    edema_along_cord_change_from_baseline_mm: float | None = None
    edema_level_change_from_previous: int | None = None
    edema_along_cord_change_from_previous_mm: float | None = None
    reason: str = Field("", description="Which rule decided the class.")


class CompareParameters(_Model):
    max_distance_mm: float
    max_residual_mm: float
    stable_percent: float
    min_change_mm: float
    overlap_fraction: float
    criteria: str = Field(
        "RANO-BM (Lin et al., Lancet Oncol 2015;16:e270-e278). No response criteria are published specifically "
        "for intramedullary spinal metastases, so this follows RANO-BM (brain metastases).",
        description="Response criteria followed.")


class Comparison(_Model):
    """One patient's studies compared over time."""

    schema_version: str = "1"
    lesionview_version: str = __version__
    created_utc: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    patient_id: str = ""
    parameters: CompareParameters
    timepoints: list[Timepoint]
    alignments: list[Alignment]
    lesions: list[PatientLesion]
    intervals: list[Interval]
    responses: list[Response]
    warnings: list[str] = Field(default_factory=list)

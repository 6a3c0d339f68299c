"""Typed, validated measurement results: what a radiologist writes in a report, with units in names.

These models serialise to JSON (``result.model_dump_json()``) and back; the reports and the
longitudinal comparison read them, never the arrays.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .. import __version__
from ..errors import shown_path
from .sct import SctMetrics
from .signs import EnhancementSigns

Point = tuple[float, float, float]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LevelSpan(_Model):
    """The levels a region spans, of one kind: vertebral levels (C1-C7, T1-T12, L1-L5: the bones) or
    spinal cord segments (C1-C8, T1-T12, L1-L5, S1-S5: the cord, named by its nerve roots)."""

    kind: Literal["vertebral", "cord segment"] = Field(
        "vertebral", description="What the names mean: 'vertebral' levels or spinal 'cord segment's "
                                 "(see lesionview.levels.segments).")
    first: str | None = Field(None, description="Most superior level, e.g. 'C5'.")
    last: str | None = Field(None, description="Most inferior level, e.g. 'C6'.")
    count: int = Field(0, ge=0, description="Number of levels from first to last, inclusive.")
    fractions: dict[str, float] = Field(default_factory=dict,
                                        description="Fraction of the region's volume in each level.")
    outside_fraction: float = Field(0.0, ge=0, le=1,
                                    description="Fraction of the volume outside the modelled levels.")
    possible_first: str | None = Field(
        None, description="Most superior level the region may reach within its uncertainty. Vertebral "
                          "levels: set only when slices 3 mm or more thick lie across the cord "
                          "(thick_slices_mm of the region), else None. Estimated cord segments: always set, "
                          "every segment boundary moved by one published SD (plus the thick-slice reach).")
    possible_last: str | None = Field(
        None, description="Most inferior level the region may reach within its uncertainty; set only "
                          "with possible_first.")
    estimated: bool | None = Field(
        None, description="Cord segments: True when estimated from the vertebral levels (published "
                          "correspondence, Parameters.segment_source), False when read from a segment "
                          "label image; None for vertebral levels.")

    @property
    def label(self) -> str:
        if self.first is None:
            return "unknown"
        return self.first if self.first == self.last else f"{self.first}-{self.last}"

    @property
    def possible_label(self) -> str | None:
        """The level range the region may span within its craniocaudal uncertainty, when that
        differs from :attr:`label` ("C5-C7" for a lesion read "C5-C6"), else None."""
        first, last = self.possible_first or self.first, self.possible_last or self.last
        if self.first is None or (first, last) == (self.first, self.last):
            return None
        return first if first == last else f"{first}-{last}"


class Lesion(_Model):
    id: int
    voxel_count: int
    volume_mm3: float
    centroid_lps_mm: Point
    max_diameter_ibsi_mm: float = Field(description="IBSI L0JK maximum 3D diameter (mesh vertices).")
    max_diameter_mm: float = Field(description="Calibrated maximum 3D diameter (see README).")
    axial_long_mm: float = Field(description="Longest diameter perpendicular to the cord axis.")
    axial_short_mm: float = Field(description="Longest diameter perpendicular to axial_long, same plane.")
    axial_uncertainty_mm: float | None = Field(
        None, description="+- this much on the axial diameters (thick slices lying in the axial plane).")
    craniocaudal_mm: float = Field(description="Extent along the superior-inferior axis.")
    craniocaudal_along_cord_mm: float | None = Field(None, description="Extent along the cord centerline.")
    craniocaudal_uncertainty_mm: float | None = Field(
        None, ge=0, description="+- this much on the craniocaudal lengths and the level extent: one voxel "
                                "box projected on the cord axis at the lesion (about the slice thickness "
                                "for axial slices, about the pixel size for sagittal ones).")
    thick_slices_mm: float | None = Field(
        None, gt=0, description="Thickness of the slices lying across the cord at the lesion (largest "
                                "voxel spacing, its axis within 45 degrees of the cord axis) when 3 mm or "
                                "more, else None; reports show craniocaudal_uncertainty_mm only then.")
    cord_occupancy: float | None = Field(None, ge=0, le=1,
                                         description="Largest fraction of the cord cross-section taken.")
    enhancement_ratio: float | None = Field(
        None, description="Mean lesion intensity / mean normal-cord intensity.")
    measurable: bool = Field(description="RECIST/RANO measurable: max_diameter_mm >= 10 mm.")
    levels: LevelSpan | None = None
    cord_segments: LevelSpan | None = Field(
        None, description="Spinal cord segments (kind 'cord segment') the region spans: estimated from the "
                          "vertebral levels or read from a segment label image (see its estimated); None "
                          "without either.")
    edema_id: int | None = Field(None, description="Edema region surrounding this lesion, if any.")
    sct: SctMetrics | None = Field(
        None, description="The Spinal Cord Toolbox's sct_analyze_lesion metrics, by SCT's own definitions "
                          "(lesionview.measure.sct; fields named sct_*), beside lesionview's own.")
    signs: EnhancementSigns | None = Field(
        None, description="Rim and flame signs on the T1 post-contrast image (lesionview.measure.signs): "
                          "imaging features (Rykken et al. AJNR 2013;34:908), not a diagnosis; None without "
                          "such an image.")


class Edema(_Model):
    id: int
    voxel_count: int
    volume_mm3: float
    craniocaudal_mm: float
    craniocaudal_along_cord_mm: float | None = None
    craniocaudal_uncertainty_mm: float | None = Field(
        None, ge=0, description="+- this much on the craniocaudal lengths and the level extent (one voxel "
                                "box projected on the cord axis).")
    thick_slices_mm: float | None = Field(
        None, gt=0, description="Thickness of the slices lying across the cord at the region when 3 mm "
                                "or more, else None (as for a lesion).")
    levels: LevelSpan | None = None
    cord_segments: LevelSpan | None = Field(
        None, description="Spinal cord segments (kind 'cord segment') the region spans: estimated from the "
                          "vertebral levels or read from a segment label image (see its estimated); None "
                          "without either.")
    longitudinally_extensive: bool | None = Field(
        None, description="Spans >= 3 vertebral levels (None without levels).")
    lesion_ids: list[int] = Field(default_factory=list)
    length_ratio: float | None = Field(
        None, description="Edema craniocaudal length / craniocaudal extent of the lesions inside it.")
    volume_ratio: float | None = Field(
        None, description="Edema volume (as drawn: lesion voxels the edema mask also covers count) / total "
                          "volume of the lesions inside it.")
    literature_context: str | None = Field(
        None, description="Where the edema's level extent and length ratio sit against the published "
                          "series of intramedullary metastases (lesionview.measure.literature); cohort "
                          "figures, not thresholds.")


class MultiplicityClass(StrEnum):
    NONE = "none"
    SOLITARY = "solitary"
    ADJACENT_PAIR = "adjacent pair"
    MULTIPLE = "multiple"


class LesionPair(_Model):
    a: int
    b: int
    gap_mm: float = Field(ge=0, description="Minimum edge-to-edge distance between the lesions.")
    gap_uncertainty_mm: float = Field(ge=0, description="+- one voxel's longest side.")
    gap_craniocaudal_uncertainty_mm: float | None = Field(
        None, ge=0, description="+- this much on gap_mm: one voxel box projected on the line joining the "
                                "two closest boundary voxels (the direction gap_mm is measured along; "
                                "about the slice thickness when that line crosses thick slices).")
    gap_thick_slices_mm: float | None = Field(
        None, gt=0, description="Thickness of the slices that line crosses (largest voxel spacing, its "
                                "axis within 45 degrees of the line) when 3 mm or more, else None; "
                                "reports show gap_craniocaudal_uncertainty_mm only then.")
    same_edema: bool
    level_distance: int | None = Field(None, description="0: same level, 1: neighbouring levels.")
    adjacent: bool


class Multiplicity(_Model):
    count: int
    kind: MultiplicityClass
    pairs: list[LesionPair] = Field(default_factory=list)
    twin_gap_mm: float = Field(description="Largest edge-to-edge gap for an adjacent pair.")


class Parameters(_Model):
    connectivity: int
    mask_kind: str
    twin_gap_mm: float
    axis: str
    level_source: str | None = None
    image_role: str | None = Field(
        None, description="Role of the image given (T1+C, T1, T2, STIR, other; None without one): the "
                          "summary calls lesions 'enhancing' only on a T1 post-contrast image.")
    resample: bool = Field(False, description="Inputs on another voxel grid were allowed to be resampled "
                                              "(--resample); InputRecord.resampled tells which were.")
    segment_source: str | None = Field(
        None, description="Where cord_segments come from: the published correspondence they are estimated "
                          "with, or the segment label image; None without cord segments.")
    level_convention: str = Field(
        "levels (LevelSpan kind 'vertebral'): vertebral levels C1-C7, T1-T12, L1-L5, boundaries are disc "
        "planes perpendicular to the cord; cord_segments (kind 'cord segment'): spinal cord segments C1-C8, "
        "T1-T12, L1-L5, S1-S5 (the cord, named by its nerve roots), estimated from the vertebral levels with "
        "a published correspondence and its SD, or read from a segment label image (segment_source)",
        description="What the level names in this result mean.")


class InputRecord(_Model):
    role: str
    path: str | None = None
    sha256: str | None = None
    segments: list[str] | None = Field(
        None, description="DICOM SEG input: the segments read, each as 'number \"label\" SCHEME:VALUE "
                          "(meaning)' of its segmented property type; None for other inputs.")
    reoriented: str | None = Field(
        None, description="Stored in another axis order than the grid measured on and brought onto it by "
                          "permuting and flipping axes, e.g. 'PIR -> RIP (axes permuted/flipped, no "
                          "interpolation)'; None when stored as measured.")
    resampled: str | None = Field(
        None, description="Interpolation that brought the input onto the grid measured on (--resample): "
                          "'nearest neighbour' (masks: labels kept, never blended) or 'linear' (images); "
                          "None when it was not resampled.")
    original_grid: str | None = Field(
        None, description="The input's own voxel grid (shape, spacing, origin, orientation) when it was "
                          "reoriented or resampled.")

    @field_validator("path", mode="before")
    @classmethod
    def _printable(cls, value):
        # POSIX file names are bytes; Python keeps undecodable ones as lone surrogates, which no
        # UTF-8 writer (JSON, CSV, HTML) accepts. Stored as shown_path shows them (U+FFFD).
        return shown_path(value) if isinstance(value, (str, bytes, os.PathLike)) else value


class StudyMeasurements(_Model):
    """Everything measured on one study."""

    schema_version: str = "1"
    lesionview_version: str = __version__
    created_utc: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    parameters: Parameters
    inputs: list[InputRecord] = Field(default_factory=list)
    voxel_spacing_mm: Point
    lesions: list[Lesion]
    edema: list[Edema] = Field(default_factory=list)
    multiplicity: Multiplicity
    summary: str
    warnings: list[str] = Field(default_factory=list)

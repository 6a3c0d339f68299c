"""The coded concepts of the DICOM SEG and SR, each with where it comes from.

Standard codes are taken from pydicom's code dictionary (``pydicom.sr.codedict.codes``, generated
from DICOM PS3.16), so a typo cannot slip in; the context group (CID) that lists each one is
named beside it. What no standard names (a range of vertebral levels, the calibrated diameter,
"longitudinally extensive") is in the private coding scheme ``99LESIONVIEW`` (PS3.16 section 8:
designators starting with "99" are local), defined here and nowhere else.
"""

from __future__ import annotations

from highdicom.sr import CodedConcept
from pydicom.sr.codedict import codes

# ----------------------------------------------------------------------------- SEG segments
#: CID 7150 Segmentation Property Categories.
MORPHOLOGICALLY_ABNORMAL_STRUCTURE = codes.SCT.MorphologicallyAbnormalStructure  # SCT 49755003
ANATOMICAL_STRUCTURE = codes.SCT.AnatomicalStructure  # SCT 91723000
#: CID 7151 / 7153 Segmentation Property Types (and anatomic region of every segment).
LESION = codes.SCT.Lesion  # SCT 52988006
EDEMA = codes.SCT.Edema  # SCT 79654002
SPINAL_CORD = codes.SCT.SpinalCord  # SCT 2748008
#: CID 7162 Surface Processing Algorithm Families: the lesionview tools threshold relative to a
#: robust histogram of normal cord, then grow connected regions.
ALGORITHM_FAMILY = codes.cid7162.HistogramAnalysis  # DCM 123105

# ----------------------------------------------------------------------------- SR measurements
#: IBSI L0JK, in DICOM as CID 7470 Linear Measurements ("IBSI" is a registered coding scheme,
#: PS3.16 table 8-1, UID 1.2.840.10008.2.16.13). Same value as pyradiomics Maximum3DDiameter.
MAX_3D_DIAMETER_IBSI = codes.IBSI.Maximum3DDiameterOfAMesh  # IBSI L0JK
#: CID 7470: the longest in-plane diameter and the one perpendicular to it in the same plane
#: (RECIST/RANO bidimensional). "Short axis" (SCT 103340004) is the lymph-node measurement of
#: CID 7470, so the perpendicular of a lesion's long axis is "Perpendicular Axis".
LONG_AXIS = codes.SCT.LongAxis  # SCT 103339001
PERPENDICULAR_AXIS = codes.SCT.PerpendicularAxis  # SCT 131189007
#: CID 7470 / 7469.
LENGTH = codes.SCT.Length  # SCT 410668003
DIAMETER = codes.SCT.Diameter  # SCT 81827009
VOLUME = codes.SCT.Volume  # SCT 118565006
#: CID 7474 Volume Measurement Methods.
VOLUME_FROM_VOXELS = codes.DCM.SumOfSegmentedVoxelMethodForVolume  # DCM 126030
#: CID 3488 Min/Max/Mean (TID 1419 "Derivation").
MAXIMUM = codes.SCT.Maximum  # SCT 56851009
#: CID 230 Yes-No.
YES = codes.SCT.Yes  # SCT 373066001
NO = codes.SCT.No  # SCT 373067005
#: TID 1500 row 7, CID 100 Quantitative Diagnostic Imaging Procedures.
PROCEDURE = codes.SCT.ImagingProcedure  # SCT 363679005
#: CID 270 Observer Type (the report's observer is lesionview, a device).
DEVICE = codes.DCM.Device  # DCM 121007
#: UCUM units.
MM = codes.UCUM.Millimeter
MM3 = codes.UCUM.CubicMillimeter

# ----------------------------------------------------------------------------- local scheme
LOCAL_SCHEME = "99LESIONVIEW"


def local(value: str, meaning: str) -> CodedConcept:
    """A concept of the lesionview coding scheme (nothing standard says it).

    Code values stay within the 16 characters of a DICOM Code Value (no Long Code Value).
    """
    if len(value) > 16:
        raise ValueError(f"local code value {value!r} is longer than 16 characters")
    return CodedConcept(value, LOCAL_SCHEME, meaning)


#: Qualitative evaluation: the vertebral levels a region spans (never cord segments).
VERTEBRAL_LEVELS = local("VERT_LEVELS", "Vertebral levels")
#: Qualitative evaluation: the spinal cord segments a region spans, estimated from its vertebral
#: levels with a published correspondence ("C5-C7") or read from a segment label image.
CORD_SEGMENTS_ESTIMATED = local("CORD_SEG_EST", "Spinal cord segments (estimated)")
CORD_SEGMENTS = local("CORD_SEGMENTS", "Spinal cord segments")
#: Qualitative evaluation of edema: spans >= 3 vertebral levels (value YES / NO).
LONGITUDINALLY_EXTENSIVE = local("LONG_EXTENSIVE", "Longitudinally extensive")
#: Measurement methods that tell the lesionview numbers apart (README, Definitions).
CALIBRATED_DIAMETER = local("CALIB_MAX_DIAM", "Calibrated maximum 3D diameter")
CRANIOCAUDAL = local("CRANIOCAUDAL", "Extent along the superior-inferior axis")
ALONG_CORD = local("ALONG_CORD", "Extent along the cord centerline")
AXIAL_SECTION = local("AXIAL_SECTION", "In a plane perpendicular to the cord axis")


def level_value(label: str) -> CodedConcept:
    """The coded value of a level span: code value and meaning are the label itself ("C5-C6")."""
    return local(label, label)

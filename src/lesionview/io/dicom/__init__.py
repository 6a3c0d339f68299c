"""DICOM series from a folder, a ``.zip`` or a single file, in LPS with their problems stated.

Why pydicom (3.x, with the pylibjpeg decoders) and not SimpleITK/GDCM
--------------------------------------------------------------------
The reader has to do things a "give me a volume" call hides: walk a folder and say why each
file was ignored, report truncated files instead of failing the whole folder, detect missing
slices and where they are, read enhanced multi-frame functional groups, and read zip members
from memory without extracting them. pydicom exposes each header element and the file offset
of the pixel data, so all of that is plain Python, and uncompressed pixels can be read straight
into the output array (see ``pixels.py``). pylibjpeg, pylibjpeg-libjpeg, -openjpeg and -rle
decode the compressed transfer syntaxes. SimpleITK/GDCM is kept as the benchmark peer
(``benchmarks/bench_load.py``), not used for reading.

Geometry
--------
``array[slice, row, col]`` (``slice_axis=0``). With ImageOrientationPatient = (r, c), r the
direction in which the column index increases and c the one in which the row index increases,
the direction columns are (n, c, r) with n = r x c; slices are sorted by ascending position
along n, so axis 0 runs along +n. Spacing is (regular step between slice positions,
PixelSpacing[0] between rows, PixelSpacing[1] between columns); the origin is the
ImagePositionPatient of the first sorted slice.

Modules: ``discover`` (files and headers), with ``sniff`` (DICOM or not, from the first bytes),
``budget`` (what parsing one header may cost) and ``zipsafe`` (zip members); ``values`` (header
values in the form the standard requires) and ``pixel_format`` (how pixels are stored);
``slices``, ``multiframe`` and ``mosaic`` (one 2D image each); ``stack`` (grouping, sorting,
gaps); ``pixels`` (reading and rescaling); ``metadata`` (SeriesInfo); ``scan`` (the public objects).
"""

from .discover import Ignored
from .scan import DicomScan, DicomSeries, pick_series, scan
from .stack import Gap

__all__ = ["DicomScan", "DicomSeries", "Gap", "Ignored", "pick_series", "scan"]

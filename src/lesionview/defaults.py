"""Default values that command-line options show, kept apart from the modules that use them.

``lesionview --help`` prints these defaults, so they must be importable without numpy, scipy or
pydicom: the modules that compute with them import them from here (``lesionview.measure`` keeps
``TWIN_GAP_MM`` importable under its old name).
"""

#: Default largest edge-to-edge gap (mm) for two lesions to count as an adjacent pair: about half
#: a cervical vertebral height, so lesions in neighbouring levels with cord between them that is
#: still within one edema region qualify, and two lesions a vertebra apart do not.
TWIN_GAP_MM = 10.0

#: Every report format, in the order they are written (the SR references the SEG; the PDF prints the
#: HTML): ``lesionview.report.build.FORMATS``.
REPORT_FORMATS = ("json", "csv", "seg", "sr", "html", "pdf")

#: Default memory limit of each local worker of ``lesionview batch``: enough for a 512 x 512 x 200
#: study with its masks and report.
BATCH_MEMORY = "4GiB"

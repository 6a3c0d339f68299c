"""Telling a DICOM file from anything else by its first bytes, without parsing it."""

from __future__ import annotations

import struct

#: Bytes read to recognise a file: the 128-byte preamble, "DICM" and the first element.
HEAD_BYTES = 144
_VRS = frozenset(b"AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM "
                 b"UC UI UL UN UR US UT UV".split())
_LONG_VRS = frozenset(b"OB OD OF OL OV OW SQ UC UN UR UT SV UV".split())  # 2 reserved bytes, 4-byte length


def sniff(head: bytes) -> tuple[str, str] | None:
    """None when ``head`` (the first bytes of a file) starts like DICOM, else ``(kind, reason)``.

    Hand-written because pydicom has no cheap test: without ``force`` it refuses files without
    the 128-byte preamble, and with ``force`` it parses whatever it is given, to the end of the
    file. Accepted: "DICM" at byte 128 followed by a group 0002 (file meta) or 0008 element, or a
    file starting directly with such an element (old exports without preamble), in explicit or
    implicit VR little endian with a sane length.

    Examples
    --------
    >>> sniff(bytes(128) + b"DICM" + b"\\x02\\x00\\x00\\x00UL\\x04\\x00\\xc4\\x00\\x00\\x00") is None
    True
    >>> sniff(b"\\x08\\x00\\x05\\x00CS\\x0a\\x00ISO_IR 100") is None
    True
    >>> sniff(bytes(20_000))
    ('not-dicom', "not a DICOM file (no 'DICM' marker at byte 128, and it does not start with a DICOM element)")
    """
    if not head:
        return "not-dicom", "an empty file"
    if head[128:132] == b"DICM":
        if _first_element_ok(head[132:]):
            return None
        if len(head) < 140:
            return "corrupt", "truncated: the file ends right after its 'DICM' marker"
        return "corrupt", "a DICOM preamble ('DICM') followed by no valid DICOM element: the file is damaged"
    if _first_element_ok(head):
        return None
    return "not-dicom", ("not a DICOM file (no 'DICM' marker at byte 128, and it does not start with a "
                         "DICOM element)")


def _first_element_ok(data: bytes) -> bool:
    if len(data) < 8:
        return False
    group, _ = struct.unpack_from("<HH", data)
    if group not in (0x0002, 0x0008):
        return False
    vr = data[4:6]
    if vr in _VRS:
        if vr in _LONG_VRS:
            return len(data) >= 12 and data[6:8] == b"\0\0"
        return True  # a 2-byte length: any value is possible
    (length,) = struct.unpack_from("<I", data, 4)  # implicit VR: a 4-byte length
    return length <= 1024  # the first elements of these groups are lengths, UIDs or short codes

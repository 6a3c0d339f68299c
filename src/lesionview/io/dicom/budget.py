"""What parsing one header may cost: a count of reads, and a stop at a run of zeros.

pydicom parses a header by reading it element by element; a damaged length can send it into the
pixel data, where every 8 bytes of zeros parse as one more empty element (60 MB of zeros took
20 s). :class:`Guarded` charges each read to the file's :class:`Budget` and stops the parse,
with a reason, when it is spent.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Reads pydicom may make while parsing one header (its functional groups included). A classic
#: image header takes about 300 (one per element, value and item); the Philips enhanced file 770,
#: about 80 per frame, so this leaves room for enhanced files of about 25,000 frames. A damaged
#: length can send the parser into pixel data, where runs of small values parse as millions of
#: tiny elements (60 MB of zeros took 20 s): this bounds that to a few seconds (and zeros, the
#: usual case, are stopped at once: see _ZERO_RUN).
MAX_HEADER_READS = 2_000_000
#: Files up to this size are parsed without counting reads (:class:`Guarded` costs a Python call
#: per element): the worst a damaged one can cost is bounded by its size, 1 MiB of zeros being
#: 131,072 empty elements, a fraction of a second. Their functional groups are always counted.
GUARD_ABOVE_BYTES = 2**20
#: Consecutive all-zero 8-byte reads (element or item headers of tag (0000,0000), length 0) after
#: which parsing stops: no valid dataset holds even two in a row.
_ZERO_RUN = 16
_ZERO8 = bytes(8)


class HeaderTooLong(Exception):
    """Raised inside pydicom by :class:`Budget` (never escapes :func:`~.discover.read_header`)."""


@dataclass
class Budget:
    """The work one header may still cost (see :data:`MAX_HEADER_READS`)."""

    reads: int = MAX_HEADER_READS
    zeros: int = 0
    exceeded: str = ""

    def spend(self, data: bytes, size: int) -> None:
        """Charge one read of ``size`` bytes that returned ``data``; raise when the budget is spent."""
        self.reads -= 1
        if size == 8 and data == _ZERO8:
            self.zeros += 1
        else:
            self.zeros = 0
        if self.reads < 0 or self.zeros > _ZERO_RUN:
            self.exceeded = self.exceeded or (
                "the header runs into a block of zeros where elements should be (damaged lengths)"
                if self.zeros > _ZERO_RUN else
                f"the header does not end after {MAX_HEADER_READS:,} reads (a damaged length sends the "
                "parser through the pixel data)")
            raise HeaderTooLong(self.exceeded)


class Guarded:
    """A binary file as pydicom reads it, with every ``read`` charged to a :class:`Budget`.

    pydicom needs only ``read``, ``seek`` and ``tell``; ``name`` is what pydicom takes for the
    file's path (None: it reads values left on disk from this object).
    """

    def __init__(self, fh, name: str | None, budget: Budget):
        self._read = fh.read
        self.seek = fh.seek
        self.tell = fh.tell
        if name is not None:  # (absent, not None: pydicom puts getattr(fp, "name", "...") in messages)
            self.name = name
        self.budget = budget
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        data = self._read(size)
        # Budget.spend, inlined: this runs for every element of every header.
        budget = self.budget
        budget.reads -= 1
        if size == 8 and data == _ZERO8:
            budget.zeros += 1
        elif budget.zeros:
            budget.zeros = 0
        if budget.reads < 0 or budget.zeros > _ZERO_RUN:
            budget.reads += 1
            budget.spend(data, size)  # says why, and raises
        return data


class Unguarded:
    """A file object as pydicom reads it, without counting reads (see :data:`GUARD_ABOVE_BYTES`)."""

    def __init__(self, fh, name: str | None):
        self.read, self.seek, self.tell = fh.read, fh.seek, fh.tell
        if name is not None:  # (see Guarded)
            self.name = name
        self.closed = False

"""Landmark files: named vertebral landmarks read to, and written from, LPS millimetres.

Names are vertebral-body centres "C5" and discs "C4/C5" (:data:`lesionview.levels.names.ACCEPTED_FORMS`);
they are checked when a :class:`~lesionview.levels.model.LevelModel` is built, not here. The format is
chosen by the file name (``.mrk.json`` before ``.json``); a ``.json`` holding 3D Slicer markups is read as such.

lesionview CSV (``.csv``)
    Columns ``name,x,y,z`` in **LPS** mm. RAS (NIfTI / 3D Slicer / ITK-SNAP world) when declared by a
    comment line ``# space: RAS`` (every row) or a ``space`` column (``LPS``/``RAS`` per row; it wins over
    the comment). RAS -> LPS is (x, y, z) -> (-x, -y, z). Aliases: ``label`` for ``name``, and coordinate
    columns that carry their space: ``x_lps,y_lps,z_lps``, ``x_ras,y_ras,z_ras``, and 3D Slicer's
    control-point table headers ``l,p,s`` / ``r,a,s`` (case ignored), whose ``defined`` column (0 = no
    position, a template) skips the row with a warning. A file uses one family of coordinate columns; mixing
    families (``x,y,z`` with ``x_ras``, or ``r,p,s``), or a comment / ``space`` column contradicting the
    columns' space, is refused. Slicer's table format: "Markups control points table file format (.csv,
    .tsv)" in Docs/developer_guide/modules/markups.md of Slicer/Slicer (a version later than 015ccd74).
lesionview JSON (``.json``)
    ``{"space": "LPS", "landmarks": [{"name": "C4/C5", "position": [x, y, z]}, ...]}`` (``x``, ``y``, ``z``
    keys instead of ``position`` also work, ``space`` per landmark too; a bare list is read as LPS).
3D Slicer markups JSON (``.mrk.json``), read and written
    Schema ``markups-schema-v1.0.3.json`` (Slicer/Slicer Modules/Loadable/Markups/Resources/Schema/, commit
    15671043411809e62742101b9b3fd843fd4739c9; a copy in tests/data/) and its reader/writer
    Modules/Loadable/Markups/MRML/vtkMRMLMarkupsJsonStorageNode.cxx (commit 004f496fd2e29b79ef6579912c5133de1563ba8b):
    ``markups[]`` each with ``type``, ``coordinateSystem`` ("LPS", the default when absent, or "RAS"),
    ``coordinateUnits`` and ``controlPoints[]`` with ``label``, ``position`` and ``positionStatus``
    ("defined" when absent). Every markup must be a point list (type "Fiducial", or "PointList" of
    vtkMRMLMarkupsPointListNode.h at d15f52db): the control points of a line, curve, plane or ROI are not
    landmarks, so such files are refused. Units other than mm are refused, as Slicer refuses a unit that
    differs from its scene's. **Control points that are not "defined"** ("undefined": a template point never
    placed, which Slicer writes with ``"position": ""``; "preview": a point still following the mouse when
    the file was saved) have no position the user confirmed: they are **skipped with a warning** naming
    them, so a half-filled template still loads; a "defined" point without a position is refused. Written
    as Slicer writes it (same keys, ``@schema`` URL and point orientation), in ``space`` LPS or RAS.
3D Slicer legacy fiducial CSV (``.fcsv``), read only
    Header ``# Markups fiducial file version = ...`` then ``# CoordinateSystem = ...``, rows
    ``id,x,y,z,ow,ox,oy,oz,vis,sel,lock,label,desc,associatedNodeID`` (fixed positions: Slicer ignores the
    ``# columns`` line, and so does this reader). Coordinate system "LPS"/"RAS", or the numbers older Slicer
    wrote: 0 = RAS, 1 = LPS (vtkMRMLMarkupsStorageNode.h at 516b64a9bbddac07e8c98aadad30988b1133aba7 and
    Docs/developer_guide/modules/markups.md at 015ccd7423793baaff3881d3ca64c35fe1f69b74); 2 = IJK (voxel
    indices) is refused. vtkMRMLMarkupsFiducialStorageNode.cxx (commits 0a730a7471675d3016e272dd280ee670fce76758,
    numeric header; 6005303431a2372099918733c112cff9c603a7a9, named). A file without the version line
    (Slicer 3) or without the coordinate-system line is refused: Slicer's default for the missing line
    changed (RAS in 4.x, LPS since), so its space cannot be known.
"""

from __future__ import annotations

import csv
import json
import os
import re
import warnings
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io.atomic import atomic_path

_RAS_TO_LPS = np.array([-1.0, -1.0, 1.0])

#: The ``@schema`` Slicer writes (vtkMRMLMarkupsJsonStorageNode.cxx, MARKUPS_SCHEMA) and accepts
#: ("different minor and patch version numbers are accepted": ACCEPTED_MARKUPS_SCHEMA_REGEX).
SLICER_MARKUPS_SCHEMA = ("https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/"
                         "Resources/Schema/markups-schema-v1.0.3.json#")
_SCHEMA_V1 = re.compile(r"markups-schema-v1\.[0-9]+\.[0-9]+\.json#*$", re.IGNORECASE)
_POINT_LISTS = ("Fiducial", "PointList")
#: Slicer's orientation of a new control point (identity in RAS) as written in LPS: first six negated.
_LPS_ORIENTATION = [-1.0, -0.0, -0.0, -0.0, -1.0, -0.0, 0.0, 0.0, 1.0]
_IDENTITY = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]

#: CSV coordinate-column families: columns, and the space they fix (None: from the comment / space column).
_FAMILIES = {"x,y,z": (("x", "y", "z"), None), "x_lps,y_lps,z_lps": (("x_lps", "y_lps", "z_lps"), "LPS"),
             "x_ras,y_ras,z_ras": (("x_ras", "y_ras", "z_ras"), "RAS"), "l,p,s": (("l", "p", "s"), "LPS"),
             "r,a,s": (("r", "a", "s"), "RAS")}
_FORMATS_HINT = ("Use .csv (name,x,y,z), .json, 3D Slicer .mrk.json or .fcsv.")


def _is_mrk_json(path: Path) -> bool:
    return path.name.lower().endswith(".mrk.json")


# ---------------------------------------------------------------------------- public
def read_landmarks(path: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """Names and LPS positions (N, 3) in mm from a landmark file (format by name, see module doc).

    Raises
    ------
    InputError
        Missing or unreadable file, unknown format, or content that breaks the format's rules.

    Examples
    --------
    A point 1 mm right, 2 mm anterior, 3 mm superior, saved for 3D Slicer in RAS, reads back in LPS:

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "levels.mrk.json"
    >>> _ = write_landmarks(path, ["C4/C5"], [[-1.0, -2.0, 3.0]], space="RAS")
    >>> json.loads(path.read_text())["markups"][0]["controlPoints"][0]["position"]
    [1.0, 2.0, 3.0]
    >>> read_landmarks(path)
    (['C4/C5'], array([[-1., -2.,  3.]]))
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("no such landmark file.", path=path, hint="Check the path.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            names, pos = _read_csv(path)
        elif suffix == ".fcsv":
            names, pos = _read_fcsv(path)
        elif suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8-sig"))
            slicer = _is_mrk_json(path) or (isinstance(data, dict) and "markups" in data)
            names, pos = _read_slicer_json(data, path) if slicer else _read_json(data, path)
        else:
            raise InputError(f"unknown landmark file type {suffix!r}.", path=path, hint=_FORMATS_HINT)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, csv.Error) as exc:
        raise InputError(f"cannot read landmarks ({exc}).", path=path,
                         hint="Expected columns name,x,y,z (CSV), "
                              '{"landmarks": [{"name": ..., "position": [x, y, z]}]} (JSON), '
                              "or a 3D Slicer point list (.mrk.json, .fcsv).") from exc
    pos = np.asarray(pos, dtype=float).reshape(-1, 3)
    bad = [n for n, p in zip(names, pos) if not np.all(np.isfinite(p))]
    if bad:
        raise InputError(f"landmark position(s) of {', '.join(map(repr, bad))} are not finite numbers.", path=path)
    return names, pos


def write_landmarks(path: str | os.PathLike, names, positions, *, space: str = "LPS") -> Path:
    """Write landmarks (LPS positions, mm) as CSV, JSON or 3D Slicer ``.mrk.json`` (by name).

    ``space`` ("LPS" or "RAS") is the coordinate system written in the file (and declared in it).
    The file is written atomically (a failure leaves no half-written file). Returns ``path``.
    """
    path = Path(path)
    name = path.name.lower()
    if not name.endswith((".csv", ".json", ".fcsv")):
        raise InputError(f"unknown landmark file type {path.suffix!r}.", path=path,
                         hint="Name it .csv, .json or .mrk.json (3D Slicer).")
    space = _check_space(space, path)
    names = [str(n) for n in names]
    pos = np.asarray(positions, dtype=float).reshape(-1, 3)
    if len(pos) != len(names):
        raise ValueError(f"{len(names)} landmark names but {len(pos)} positions")
    out = pos * _RAS_TO_LPS if space == "RAS" else pos
    if path.suffix.lower() == ".fcsv":
        raise InputError("lesionview does not write the legacy .fcsv format.", path=path,
                         hint="Write .mrk.json, which 3D Slicer reads and writes by default.")
    with atomic_path(path) as tmp:
        if _is_mrk_json(path):
            text = json.dumps(_slicer_markups(names, out, space), indent=4) + "\n"
            tmp.write_text(text, encoding="utf-8")
        elif path.suffix.lower() == ".json":
            data = {"space": space, "landmarks": [{"name": n, "position": [float(v) for v in p]}
                                                  for n, p in zip(names, out)]}
            tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        else:
            with tmp.open("w", newline="", encoding="utf-8") as f:
                f.write(f"# lesionview vertebral landmarks; space: {space} (mm)\n")
                w = csv.writer(f)
                w.writerow(["name", "x", "y", "z"])
                for n, p in zip(names, out):
                    w.writerow([n, *(repr(float(v)) for v in p)])
    return path


# ---------------------------------------------------------------------------- helpers
def _check_space(space, path) -> str:
    s = str(space).strip().upper()
    if s not in ("LPS", "RAS"):
        raise InputError(f"unknown coordinate space {space!r}.", path=path, hint="Use LPS or RAS.")
    return s


def _to_lps(xyz, space: str) -> np.ndarray:
    xyz = np.asarray(xyz, dtype=float).reshape(3)
    return xyz * _RAS_TO_LPS if space == "RAS" else xyz


def _warn_skipped(path: Path, skipped: list[str], why: str) -> None:
    if skipped:
        warnings.warn(f"{path}: skipped {len(skipped)} landmark(s) {why}: {', '.join(map(repr, skipped))}.",
                      UserWarning, stacklevel=4)


# ---------------------------------------------------------------------------- lesionview CSV
def _read_csv(path: Path) -> tuple[list[str], list]:
    comment_space = None
    rows = []
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            m = re.search(r"space\s*[:=]\s*([A-Za-z]+)", stripped)
            if m:
                comment_space = _check_space(m.group(1), path)
            continue
        if stripped:
            rows.append(line)
    reader = csv.DictReader(rows)
    header = [(f or "").strip().lower() for f in (reader.fieldnames or [])]
    fields = dict(zip(header, reader.fieldnames or []))
    dup = sorted({h for h in header if h and header.count(h) > 1})
    if dup:
        raise InputError(f"landmark CSV repeats column(s) {', '.join(dup)}.", path=path, hint="Keep one of each.")
    name_col, (columns, fixed) = _name_column(fields, path), _coordinate_family(fields, path)
    if fixed and comment_space and comment_space != fixed:
        raise InputError(f"landmark CSV says 'space: {comment_space}' but its columns {','.join(columns)} "
                         f"are {fixed}.", path=path, hint="Remove the comment or rename the columns.")
    default = fixed or comment_space or "LPS"
    names, pos, skipped = [], [], []
    for line_no, row in enumerate(reader, start=2):
        name = (row[fields[name_col]] or "").strip()
        if "defined" in fields and (row[fields["defined"]] or "1").strip() == "0":
            skipped.append(name)
            continue
        space = default
        if "space" in fields and (row[fields["space"]] or "").strip():
            space = _check_space(row[fields["space"]], path)
            if fixed and space != fixed:
                raise InputError(f"row {line_no} ({name!r}) says space {space} but the columns "
                                 f"{','.join(columns)} are {fixed}.", path=path,
                                 hint="Remove the space column or rename the coordinate columns.")
        names.append(name)
        pos.append(_to_lps([float(row[fields[c]]) for c in columns], space))
    _warn_skipped(path, skipped, "whose 'defined' is 0 (no position)")
    return names, pos


def _name_column(fields: dict, path: Path) -> str:
    present = [c for c in ("name", "label") if c in fields]
    if len(present) == 2:
        raise InputError("landmark CSV has both a 'name' and a 'label' column.", path=path,
                         hint="Keep one: 'label' is read as 'name'.")
    if not present:
        raise InputError("landmark CSV lacks a name column (name or label).", path=path,
                         hint="The first non-comment line must be a header such as name,x,y,z[,space].")
    return present[0]


def _coordinate_family(fields: dict, path: Path) -> tuple[tuple[str, ...], str | None]:
    """The one family of coordinate columns the header uses, and the space its names fix."""
    # "s" belongs to both l,p,s and r,a,s: a family is in use when one of its own columns is.
    used = {key: fam for key, fam in _FAMILIES.items()
            if any(c in fields for c in fam[0] if c != "s")}
    if len(used) > 1:
        raise InputError(f"landmark CSV mixes coordinate columns of {' and '.join(used)}.", path=path,
                         hint="Use one set: x,y,z (LPS, or RAS with '# space: RAS'), x_lps,y_lps,z_lps, "
                              "x_ras,y_ras,z_ras, l,p,s or r,a,s.")
    if not used:
        raise InputError("landmark CSV lacks coordinate columns x,y,z.", path=path,
                         hint="The first non-comment line must be the header name,x,y,z[,space] "
                              "(or x_ras,y_ras,z_ras, x_lps,y_lps,z_lps, r,a,s, l,p,s).")
    key, (columns, fixed) = next(iter(used.items()))
    missing = [c for c in columns if c not in fields]
    if missing:
        raise InputError(f"landmark CSV lacks column(s) {', '.join(missing)} of {key}.", path=path,
                         hint=f"Give all three columns {key}.")
    return columns, fixed


# ---------------------------------------------------------------------------- lesionview JSON
def _read_json(data, path: Path) -> tuple[list[str], list]:
    default = "LPS"
    items = data
    if isinstance(data, dict):
        default = _check_space(data.get("space", "LPS"), path)
        items = data["landmarks"]
    names, pos = [], []
    for item in items:
        names.append(str(item["name"]).strip())
        xyz = item["position"] if "position" in item else [item["x"], item["y"], item["z"]]
        pos.append(_to_lps(xyz, _check_space(item.get("space", default), path)))
    return names, pos


# ---------------------------------------------------------------------------- 3D Slicer
def _read_slicer_json(data, path: Path) -> tuple[list[str], list]:
    if not isinstance(data, dict) or not isinstance(data.get("markups"), list):
        raise InputError("not a 3D Slicer markups file: no 'markups' list.", path=path,
                         hint="Save the point list from 3D Slicer as .mrk.json.")
    schema = data.get("@schema")
    if schema is not None and not _SCHEMA_V1.search(str(schema).strip()):
        raise InputError(f"unsupported markups schema {schema!r}.", path=path,
                         hint="lesionview reads markups-schema-v1.x.y (3D Slicer 4.11 and later).")
    names, pos, skipped = [], [], []
    for i, markup in enumerate(data["markups"]):
        kind = markup.get("type")
        if kind not in _POINT_LISTS:
            raise InputError(f"markup {i} is a {kind!r}, not a point list; its control points are not "
                             "landmarks.", path=path, hint="Save a point list (Fiducial) of named landmarks.")
        space = str(markup.get("coordinateSystem") or "LPS").strip().upper()
        if space not in ("LPS", "RAS"):
            raise InputError(f"markup {i} has coordinateSystem {markup.get('coordinateSystem')!r}.", path=path,
                             hint="3D Slicer writes LPS or RAS; save the point list again from Slicer.")
        units = markup.get("coordinateUnits", "mm")
        if (units[0] if isinstance(units, list) and units else units) != "mm":
            raise InputError(f"markup {i} is in {units!r}, not millimetres.", path=path,
                             hint="Set the scene's length unit to mm in 3D Slicer and save again.")
        for j, point in enumerate(markup.get("controlPoints") or []):
            label = str(point.get("label", "")).strip()
            status = point.get("positionStatus", "defined")
            if status not in ("undefined", "preview", "defined"):
                raise InputError(f"control point {j + 1} ({label!r}) has positionStatus {status!r}.", path=path,
                                 hint='Slicer writes "defined", "preview" or "undefined".')
            if status != "defined":
                skipped.append(f"{label} ({status})")
                continue
            xyz = point.get("position")
            if not isinstance(xyz, list) or len(xyz) != 3:
                raise InputError(f"control point {j + 1} ({label!r}) is 'defined' but its position is "
                                 f"{xyz!r}, not [x, y, z].", path=path, hint="Place the point again in 3D Slicer.")
            names.append(label)
            pos.append(_to_lps([float(v) for v in xyz], space))
    _warn_skipped(path, skipped, "that are not placed (positionStatus not 'defined')")
    return names, pos


def _slicer_markups(names: list[str], positions: np.ndarray, space: str) -> dict:
    """One point list, with the keys and order of vtkMRMLMarkupsJsonStorageNode::WriteMarkup."""
    points = [{"id": str(i + 1), "label": n, "description": "", "associatedNodeID": "",
               "position": [float(v) for v in p],
               "orientation": _LPS_ORIENTATION if space == "LPS" else _IDENTITY,
               "selected": True, "locked": False, "visibility": True, "positionStatus": "defined"}
              for i, (n, p) in enumerate(zip(names, positions))]
    markup = {"type": "Fiducial", "coordinateSystem": space, "coordinateUnits": "mm", "locked": False,
              "fixedNumberOfControlPoints": False, "labelFormat": "%N-%d",
              "lastUsedControlPointNumber": len(points), "controlPoints": points, "measurements": [],
              "display": {"visibility": True, "pointLabelsVisibility": True}}
    return {"@schema": SLICER_MARKUPS_SCHEMA, "markups": [markup]}


_FCSV_SPACES = {"0": "RAS", "RAS": "RAS", "1": "LPS", "LPS": "LPS"}


def _read_fcsv(path: Path) -> tuple[list[str], list]:
    header, rows = {}, []
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        if line.startswith("#"):
            key, _, value = line[1:].partition("=")
            header[key.strip()] = value.strip()
        elif line.strip():
            rows.append(line)
    if "Markups fiducial file version" not in header:
        raise InputError("no '# Markups fiducial file version = ...' line: not a 3D Slicer 4+ .fcsv.", path=path,
                         hint="Open it in 3D Slicer and save the point list as .mrk.json.")
    if "CoordinateSystem" not in header:
        raise InputError("no '# CoordinateSystem = ...' line: the file's space (LPS or RAS) is unknown.",
                         path=path, hint="Add '# CoordinateSystem = LPS' (or RAS) under the version line.")
    space = _FCSV_SPACES.get(header["CoordinateSystem"].upper())
    if space is None:
        raise InputError(f"CoordinateSystem {header['CoordinateSystem']!r} is not LPS or RAS (0 = RAS, 1 = LPS; "
                         "2 = IJK voxel indices are not read).", path=path,
                         hint="Save the point list from 3D Slicer in LPS (.mrk.json).")
    names, pos = [], []
    # Labels with a comma or quote are quoted, quotes doubled (ConvertStringToStorageFormat): csv's dialect.
    for line_no, fields in enumerate(csv.reader(rows), start=1):
        if len(fields) < 4:
            raise InputError(f"point row {line_no} has {len(fields)} field(s), not id,x,y,z,...", path=path)
        names.append(fields[11].strip() if len(fields) > 11 else "")
        pos.append(_to_lps([float(v) for v in fields[1:4]], space))
    return names, pos

"""Landmark files: 3D Slicer markups (.mrk.json, .fcsv), CSV column aliases, and their refusals.

The reference files in tests/data/ are described (with their sources) in tests/data/README.md.
RAS -> LPS is checked against nibabel's orientation algebra, an oracle independent of lesionview.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from nibabel.orientations import axcodes2ornt, ornt_transform

from lesionview.errors import InputError
from lesionview.levels import LevelModel, read_landmarks, sources, write_landmarks
from lesionview.phantom import sample_path

DATA = Path(__file__).parent / "data"
SCHEMA = json.loads((DATA / "markups-schema-v1.0.3.json").read_text(encoding="utf-8"))
NAMES = ["C2", "C2/C3", "C3", "C3/C4"]


def ras_to_lps(points) -> np.ndarray:
    """RAS points in LPS, by nibabel: the axis permutation and flips taking RAS axes to LPS axes."""
    ornt = ornt_transform(axcodes2ornt("RAS"), axcodes2ornt("LPS"))
    points = np.asarray(points, dtype=float).reshape(-1, 3)
    out = np.empty_like(points)
    for axis, (new_axis, flip) in enumerate(ornt):
        out[:, int(new_axis)] = flip * points[:, axis]
    return out


def file_positions(path: Path) -> np.ndarray:
    """The numbers written in a .mrk.json file, as they stand (no conversion)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return np.array([cp["position"] for cp in data["markups"][0]["controlPoints"]], dtype=float)


def refused(path: Path, match: str) -> InputError:
    with pytest.raises(InputError, match=match) as info:
        read_landmarks(path)
    assert str(path) in info.value.message, info.value.message
    return info.value


def test_oracle_on_a_hand_derived_point():
    # 10 mm to the patient's right, 20 mm anterior, 30 mm superior: L = -10, P = -20, S = 30.
    np.testing.assert_array_equal(ras_to_lps([10.0, 20.0, 30.0]), [[-10.0, -20.0, 30.0]])


# ---------------------------------------------------------------------------- .mrk.json
def test_reference_files_follow_slicers_schema():
    for name in ("slicer_cervical_lps.mrk.json", "slicer_cervical_ras.mrk.json"):
        jsonschema.validate(json.loads((DATA / name).read_text(encoding="utf-8")), SCHEMA)


def test_mrk_json_lps_is_read_as_written():
    path = DATA / "slicer_cervical_lps.mrk.json"
    names, pos = read_landmarks(path)
    assert names == NAMES
    np.testing.assert_allclose(pos, file_positions(path), rtol=0, atol=1e-12)


def test_mrk_json_ras_is_converted_to_lps():
    path = DATA / "slicer_cervical_ras.mrk.json"
    names, pos = read_landmarks(path)
    assert names == NAMES
    np.testing.assert_allclose(pos, ras_to_lps(file_positions(path)), rtol=0, atol=1e-12)
    # The RAS file holds the LPS file's points: both read to the same place.
    np.testing.assert_allclose(pos, read_landmarks(DATA / "slicer_cervical_lps.mrk.json")[1], atol=1e-12)


@pytest.mark.parametrize("source", ["slicer_cervical_lps.mrk.json", "slicer_cervical_ras.mrk.json"])
@pytest.mark.parametrize("space", ["LPS", "RAS"])
def test_mrk_json_round_trip(tmp_path, source, space):
    names, pos = read_landmarks(DATA / source)
    out = write_landmarks(tmp_path / "again.mrk.json", names, pos, space=space)
    written = json.loads(out.read_text(encoding="utf-8"))
    jsonschema.validate(written, SCHEMA)
    assert written["markups"][0]["coordinateSystem"] == space
    expected_numbers = ras_to_lps(pos) if space == "RAS" else pos   # LPS <-> RAS is its own inverse
    np.testing.assert_allclose(file_positions(out), expected_numbers, rtol=0, atol=1e-9)
    again_names, again = read_landmarks(out)
    assert again_names == names == NAMES
    np.testing.assert_allclose(again, pos, rtol=0, atol=1e-6)


def test_written_mrk_json_has_slicers_layout(tmp_path):
    names, pos = read_landmarks(DATA / "slicer_cervical_lps.mrk.json")
    written = json.loads(write_landmarks(tmp_path / "w.mrk.json", names, pos).read_text(encoding="utf-8"))
    slicer = json.loads((DATA / "slicer_cervical_lps.mrk.json").read_text(encoding="utf-8"))
    assert written["@schema"] == slicer["@schema"]
    ours, theirs = written["markups"][0], slicer["markups"][0]
    assert [k for k in ours if k != "display"] == [k for k in theirs if k != "display"]
    assert list(ours["controlPoints"][0]) == list(theirs["controlPoints"][0])
    assert [cp["orientation"] for cp in ours["controlPoints"]] == [cp["orientation"] for cp in theirs["controlPoints"]]


def test_slicer_docs_minimal_example_is_read(tmp_path):
    # Docs/developer_guide/modules/markups.md: "A simple example ... loaded into Slicer" (schema v1.0.0).
    text = ('{"@schema": "https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/'
            'Resources/Schema/markups-schema-v1.0.0.json#",\n"markups": [{"type": "Fiducial", '
            '"coordinateSystem": "LPS", "controlPoints": [\n'
            '    { "label": "F-1", "position": [-53.388409961685827, -73.33572796934868, 0.0] },\n'
            '    { "label": "F-2", "position": [49.8682950191571, -88.58955938697324, 0.0] },\n'
            '    { "label": "F-3", "position": [-25.22749042145594, 59.255268199233729, 0.0] }\n]}]}\n')
    path = tmp_path / "myexample.mrk.json"
    path.write_text(text)
    jsonschema.validate(json.loads(text), SCHEMA)
    names, pos = read_landmarks(path)
    assert names == ["F-1", "F-2", "F-3"]
    np.testing.assert_allclose(pos[2], [-25.22749042145594, 59.255268199233729, 0.0])


def _markup(points, **extra) -> dict:
    return {"@schema": "https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/"
                       "Resources/Schema/markups-schema-v1.0.3.json#",
            "markups": [{"type": "Fiducial", "coordinateSystem": "RAS", "controlPoints": points, **extra}]}


def test_unplaced_points_are_skipped_with_a_warning(tmp_path):
    # Slicer writes an unplaced template point as "position": "" with positionStatus "undefined".
    path = tmp_path / "template.mrk.json"
    path.write_text(json.dumps(_markup([
        {"label": "C4", "position": [1.0, 2.0, 3.0], "positionStatus": "defined"},
        {"label": "C5", "position": "", "positionStatus": "undefined"},
        {"label": "C6", "position": [4.0, 5.0, 6.0], "positionStatus": "preview"},
        {"label": "C7", "position": [7.0, 8.0, 9.0]}])))   # no status: defined (Slicer's reader)
    with pytest.warns(UserWarning, match=r"template\.mrk\.json: skipped 2 landmark\(s\).*'C5 \(undefined\)', "
                                         r"'C6 \(preview\)'"):
        names, pos = read_landmarks(path)
    assert names == ["C4", "C7"]
    np.testing.assert_allclose(pos, ras_to_lps([[1, 2, 3], [7, 8, 9]]))


def test_all_placed_points_give_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_landmarks(DATA / "slicer_cervical_lps.mrk.json")


@pytest.mark.parametrize(("content", "match"), [
    (_markup([{"label": "C4", "position": "", "positionStatus": "defined"}]), r"'C4'.*'defined' but its position"),
    (_markup([{"label": "C4", "position": [1, 2], "positionStatus": "defined"}]), r"not \[x, y, z\]"),
    (_markup([{"label": "C4", "position": [1, 2, 3], "positionStatus": "placed"}]), "positionStatus 'placed'"),
    (_markup([{"label": "C4", "position": [1, 2, 3]}], coordinateUnits="um"), "not millimetres"),
    (_markup([], coordinateSystem="IJK"), "coordinateSystem 'IJK'"),
    ({**_markup([]), "@schema": "https://example.org/markups-schema-v2.0.0.json#"}, "unsupported markups schema"),
    ({"@schema": _markup([])["@schema"], "markups": [{"type": "Curve", "controlPoints": []}]},
     "markup 0 is a 'Curve', not a point list"),
    ({"@schema": _markup([])["@schema"]}, "no 'markups' list"),
])
def test_bad_mrk_json_is_refused(tmp_path, content, match):
    path = tmp_path / "bad.mrk.json"
    path.write_text(json.dumps(content))
    refused(path, match)


def test_plain_json_holding_markups_is_read_as_slicer(tmp_path):
    # Slicer also reads and writes markups as plain .json.
    path = tmp_path / "points.json"
    path.write_text((DATA / "slicer_cervical_ras.mrk.json").read_text())
    assert read_landmarks(path)[0] == NAMES
    np.testing.assert_allclose(read_landmarks(path)[1], read_landmarks(DATA / "slicer_cervical_lps.mrk.json")[1])


def test_level_model_from_mrk_json_matches_the_phantom_csv(tmp_path):
    names, pos = read_landmarks(sample_path("twin") / "landmarks.csv")
    ras = write_landmarks(tmp_path / "twin.mrk.json", names, pos, space="RAS")
    model = LevelModel.from_file(ras)
    assert model.landmark_names == LevelModel.from_landmarks(names, pos).landmark_names
    np.testing.assert_allclose(model.landmark_positions, LevelModel.from_landmarks(names, pos).landmark_positions,
                               atol=1e-9)


# ---------------------------------------------------------------------------- .fcsv
def test_fcsv_lps_from_slicers_documentation():
    names, pos = read_landmarks(DATA / "slicer_docs_lps.fcsv")
    assert names == ["F-1", "F-2", "F-3"]
    np.testing.assert_allclose(pos[0], [-19.906699999999987, 13.9347, 29.442970822281154])


def test_fcsv_agrees_with_the_documented_control_point_table(tmp_path):
    # The same documentation page shows these points as a control-point table (label,l,p,s,...), rounded.
    table = tmp_path / "points.csv"
    table.write_text("label,l,p,s,defined,selected,visible,locked,description\n"
                     "F-1,-19.9067,13.9347,29.443,1,1,1,0,\n"
                     "F-2,-7.3939,-76.9499,17.5525,1,1,1,0,\n"
                     "F-3,81.7333,-42.9415,9.62559,1,1,1,0,\n")
    t_names, t_pos = read_landmarks(table)
    f_names, f_pos = read_landmarks(DATA / "slicer_docs_lps.fcsv")
    assert t_names == f_names
    np.testing.assert_allclose(t_pos, f_pos, atol=1e-3)


def test_old_fcsv_with_numeric_ras_header():
    names, pos = read_landmarks(DATA / "slicer_cervical_old_ras.fcsv")
    assert names == NAMES      # the quoted description with a comma does not shift the label
    raw = np.array([[-1.2345678901234, 31.0625, 58.90000000000001], [-0.8750000000000002, 27.5, 44.125],
                    [0.3333333333333333, 29.75, 30.0], [1.5, 30.25, 15.625]])
    np.testing.assert_allclose(pos, ras_to_lps(raw), rtol=0, atol=1e-12)
    np.testing.assert_allclose(pos, read_landmarks(DATA / "slicer_cervical_lps.mrk.json")[1], atol=1e-12)


def test_fcsv_named_and_numeric_headers_agree(tmp_path):
    text = (DATA / "slicer_cervical_old_ras.fcsv").read_text()
    for header in ("RAS", "0"):
        path = tmp_path / f"h{header}.fcsv"
        path.write_text(text.replace("# CoordinateSystem = 0", f"# CoordinateSystem = {header}"))
        np.testing.assert_allclose(read_landmarks(path)[1], read_landmarks(DATA / "slicer_cervical_old_ras.fcsv")[1])
    lps = tmp_path / "lps.fcsv"
    lps.write_text(text.replace("# CoordinateSystem = 0", "# CoordinateSystem = 1"))
    np.testing.assert_allclose(read_landmarks(lps)[1], ras_to_lps(read_landmarks(DATA / "slicer_cervical_old_ras.fcsv")[1]))


@pytest.mark.parametrize(("drop", "replace", "match"), [
    ("# Markups fiducial file version = 4.10\n", None, "Markups fiducial file version"),
    ("# CoordinateSystem = 0\n", None, "space .LPS or RAS. is unknown"),
    (None, ("# CoordinateSystem = 0", "# CoordinateSystem = 2"), "2 = IJK"),
    (None, ("# CoordinateSystem = 0", "# CoordinateSystem = IJK"), "'IJK' is not LPS or RAS"),
    (None, (",31.0625,", ",thirty,"), "cannot read landmarks"),
    (None, (',15.625,0,0,0,1,1,1,0,"C3/C4",,vtkMRMLScalarVolumeNode1', ""), r"point row 4 has 3 field\(s\)"),
])
def test_bad_fcsv_is_refused(tmp_path, drop, replace, match):
    text = (DATA / "slicer_cervical_old_ras.fcsv").read_text()
    if drop:
        text = text.replace(drop, "")
    if replace:
        text = text.replace(*replace)
    path = tmp_path / "bad.fcsv"
    path.write_text(text)
    refused(path, match)


def test_fcsv_is_not_written(tmp_path):
    with pytest.raises(InputError, match=r"\.mrk\.json"):
        write_landmarks(tmp_path / "out.fcsv", ["C2"], [[0, 0, 0]])


# ---------------------------------------------------------------------------- CSV aliases
RAS_ROWS = [("C4", 10.0, 20.0, 30.0), ("C5", -5.0, 22.5, 12.0)]


def _csv(tmp_path, header: str, rows=RAS_ROWS, comment: str = "") -> Path:
    path = tmp_path / "alias.csv"
    body = "".join(",".join(str(v) for v in row) + "\n" for row in rows)
    path.write_text(comment + header + "\n" + body)
    return path


@pytest.mark.parametrize("header", ["name,x_ras,y_ras,z_ras", "label,X_RAS,Y_RAS,Z_RAS", "label,r,a,s",
                                    "name,R,A,S", "name,x,y,z"])
def test_ras_columns(tmp_path, header):
    comment = "# space: RAS\n" if header.endswith("x,y,z") else ""
    names, pos = read_landmarks(_csv(tmp_path, header, comment=comment))
    assert names == ["C4", "C5"]
    np.testing.assert_allclose(pos, ras_to_lps([r[1:] for r in RAS_ROWS]))


@pytest.mark.parametrize("header", ["name,x_lps,y_lps,z_lps", "label,l,p,s", "Label,L,P,S", "name,x,y,z"])
def test_lps_columns(tmp_path, header):
    names, pos = read_landmarks(_csv(tmp_path, header))
    assert names == ["C4", "C5"]
    np.testing.assert_allclose(pos, [r[1:] for r in RAS_ROWS])


def test_slicer_table_undefined_rows_are_skipped(tmp_path):
    path = _csv(tmp_path, "label,r,a,s,defined", rows=[("C4", 1, 2, 3, 1), ("C5", 0, 0, 0, 0)])
    with pytest.warns(UserWarning, match=r"skipped 1 landmark\(s\) whose 'defined' is 0.*'C5'"):
        names, pos = read_landmarks(path)
    assert names == ["C4"]
    np.testing.assert_allclose(pos, ras_to_lps([1, 2, 3]))


def test_space_column_agreeing_with_the_columns_is_accepted(tmp_path):
    path = _csv(tmp_path, "name,x_ras,y_ras,z_ras,space", rows=[(*r, "RAS") for r in RAS_ROWS])
    np.testing.assert_allclose(read_landmarks(path)[1], ras_to_lps([r[1:] for r in RAS_ROWS]))


@pytest.mark.parametrize(("header", "comment", "rows", "match"), [
    ("name,x,y,z,x_ras,y_ras,z_ras", "", None, "mixes coordinate columns of x,y,z and x_ras,y_ras,z_ras"),
    ("name,r,p,s", "", None, "mixes coordinate columns of l,p,s and r,a,s"),
    ("name,x_lps,y_lps,z_ras", "", None, "mixes coordinate columns"),
    ("name,x_ras,y_ras", "", None, r"lacks column\(s\) z_ras of x_ras,y_ras,z_ras"),
    ("name,x_lps,y_lps,z_lps", "# space: RAS\n", None, "says 'space: RAS' but its columns x_lps,y_lps,z_lps are LPS"),
    ("name,r,a,s,space", "", [(*r, "LPS") for r in RAS_ROWS], "row 2 .'C4'. says space LPS but the columns r,a,s"),
    ("name,label,x,y,z", "", [(r[0], *r) for r in RAS_ROWS], "both a 'name' and a 'label' column"),
    ("name,x,y,z,X", "", [(*r, 1) for r in RAS_ROWS], "repeats column"),
    ("id,x,y,z", "", None, "lacks a name column"),
    ("name,u,v,w", "", None, "lacks coordinate columns"),
])
def test_contradictory_columns_are_refused(tmp_path, header, comment, rows, match):
    refused(_csv(tmp_path, header, rows=rows or RAS_ROWS, comment=comment), match)


def test_non_finite_position_is_refused_with_its_name(tmp_path):
    refused(_csv(tmp_path, "name,x,y,z", rows=[("C4", "nan", 0, 0), ("C5", 0, 0, 1)]), "'C4' are not finite")


def test_unknown_suffix_is_refused(tmp_path):
    path = tmp_path / "points.txt"
    path.write_text("name,x,y,z\n")
    refused(path, r"unknown landmark file type '\.txt'")


def test_old_import_paths_still_work():
    assert sources.read_landmarks is read_landmarks and sources.write_landmarks is write_landmarks


def test_writing_refuses_an_unknown_file_type_and_leaves_nothing(tmp_path):
    with pytest.raises(InputError, match="unknown landmark file type '.txt'"):
        write_landmarks(tmp_path / "levels.txt", ["C5"], [[0.0, 0.0, 0.0]])
    assert list(tmp_path.iterdir()) == []

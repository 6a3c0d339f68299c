"""The group level of ``lesionview batch``: a small cohort measured for real, its session tables
written where the participant level writes them, and the cohort table, summary, plots and page
checked against what was built."""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import ndimage

from lesionview.batch import derivatives
from lesionview.batch import group as group_level
from lesionview.batch.group import GROUP, PAGE, SUMMARY, TABLE, write_group
from lesionview.errors import InputError
from lesionview.geometry import Geometry
from lesionview.levels import LevelModel
from lesionview.measure import MultiplicityClass, measure
from lesionview.volume import Volume

# LPS grid, 1 mm voxels, z (axis 2) superior from -70 to +59. Discs every 15 mm (C5/C6 at z = -3),
# so C3 lies from z 42 to 27, C4 27 to 12, C5 12 to -3, C6 -3 to -18, C7 -18 to -33.
GRID = Geometry((28, 28, 130), spacing=(1.0, 1.0, 1.0), origin=(-13.5, -13.5, -70))
DISCS = ["C1/C2", "C2/C3", "C3/C4", "C4/C5", "C5/C6", "C6/C7", "C7/T1", "T1/T2"]
DISC_Z = -3.0 + 15 * np.arange(4, -4, -1)

#: (participant, session, lesions as capsules on the cord axis (top z, bottom z, radius: a sphere
#: when top = bottom), their expected levels, edema as (top z, bottom z) around them or None, its
#: expected levels).
COHORT = [
    ("01", "01", [(5, 5, 2.0), (-8, -8, 4.0)], ["C5", "C6"], (40, -30), "C3-C7"),   # an adjacent pair
    ("01", "02", [(-3, -3, 4.0)], ["C5-C6"], (20, -10), "C4-C6"),                   # solitary, across a disc
    ("02", None, [], [], None, None),                                               # no lesion
    ("03", "01", [(30, 30, 3.0), (-25, -25, 2.5)], ["C3", "C7"], (34, 22), "C3-C4"),  # two far apart
    ("03", "02", [(16, -8, 2.5)], ["C4-C6"], None, None),                           # long, over 3 levels
]
# C5-C6 adds one to C5 and one to C6; C4-C6 one to each of C4, C5 and C6.
PER_LEVEL = {"C3": 1, "C4": 1, "C5": 3, "C6": 3, "C7": 1}
LESION_RGB = (0xFF, 0x2A, 0x2A)


def _measure(capsules, edema_z):
    world = GRID.index_to_world(np.indices(GRID.shape).reshape(3, -1).T).reshape(*GRID.shape, 3)
    r_xy, z = np.hypot(world[..., 0], world[..., 1]), world[..., 2]
    lesions = np.zeros(GRID.shape, np.uint8)
    for top, bottom, radius in capsules:
        lesions[np.hypot(r_xy, np.maximum(0, np.maximum(z - top, bottom - z))) <= radius] = 1
    cord = (r_xy <= 7).astype(np.uint8)
    edema = None
    if edema_z is not None:
        top, bottom = edema_z
        edema = Volume(((r_xy <= 6) & (world[..., 2] < top) & (world[..., 2] > bottom) & (lesions == 0))
                       .astype(np.uint8), GRID)
    levels = LevelModel.from_landmarks(DISCS, [[0, 0, z] for z in DISC_Z])
    return measure(Volume(lesions, GRID), edema=edema, cord=Volume(cord, GRID), levels=levels)


def _table_path(out: Path, participant: str, session: str | None) -> Path:
    name = f"{derivatives.prefix(participant, session)}_{derivatives.MEASUREMENTS}.tsv"
    return derivatives.session_folder(out, participant, session) / name


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    """OUT_DIR after the participant level: one measurements table per session."""
    out = tmp_path_factory.mktemp("batch")
    for participant, session, capsules, levels, edema_z, edema_levels in COHORT:
        result = _measure(capsules, edema_z)
        assert [les.levels.label for les in result.lesions] == levels   # the phantom is what it says
        assert [ed.levels.label for ed in result.edema] == ([edema_levels] if edema_levels else [])
        table = derivatives.write_tsv(derivatives.measurement_rows(result), derivatives.columns(),
                                      _table_path(out, participant, session))
        _vouch(table)
    return out


def _vouch(table: Path) -> None:
    """The provenance record the participant level writes last, beside a finished session's table."""
    record = table.name.replace(derivatives.MEASUREMENTS + ".tsv", derivatives.PROVENANCE + ".json")
    derivatives.write_json({"study": table.name}, table.with_name(record))


@pytest.fixture(scope="module")
def group(cohort):
    return write_group(cohort)


@pytest.fixture(scope="module")
def table(group) -> pd.DataFrame:
    return pd.read_csv(group.table, sep="\t", na_values="n/a", keep_default_na=False, dtype={"session_id": str})


def _session_lesion_diameters(out: Path) -> list[float]:
    return [float(row["max_diameter_mm"]) for path in sorted(out.glob("sub-*/**/*_measurements.tsv"))
            for row in derivatives.read_tsv(path) if row["kind"] == "lesion"]


def test_cohort_table_has_one_row_per_lesion_and_edema_region_with_who_first(cohort, group, table):
    columns = group_level.cohort_columns()
    assert list(table.columns) == columns and columns[:2] == ["participant_id", "session_id"]
    assert table["kind"].value_counts().to_dict() == {"lesion": 6, "edema": 3}   # pair rows left out
    assert list(zip(table["participant_id"], table["session_id"].fillna("-"), table["kind"], table["id"])) == [
        ("sub-01", "ses-01", "lesion", 1), ("sub-01", "ses-01", "lesion", 2), ("sub-01", "ses-01", "edema", 1),
        ("sub-01", "ses-02", "lesion", 1), ("sub-01", "ses-02", "edema", 1),
        ("sub-03", "ses-01", "lesion", 1), ("sub-03", "ses-01", "lesion", 2), ("sub-03", "ses-01", "edema", 1),
        ("sub-03", "ses-02", "lesion", 1)]
    lesions = table[table["kind"] == "lesion"]
    assert lesions["levels"].tolist() == ["C5", "C6", "C5-C6", "C3", "C7", "C4-C6"]
    assert lesions["multiplicity"].tolist() == ["adjacent pair"] * 2 + ["solitary"] + ["multiple"] * 2 + ["solitary"]
    assert table[table["kind"] == "edema"]["lesion_ids"].astype(str).tolist() == ["1 2", "1", "1"]
    # the values are the session tables' own
    assert sorted(lesions["max_diameter_mm"]) == pytest.approx(sorted(_session_lesion_diameters(cohort)))
    dictionary = json.loads(group.dictionary.read_text())
    assert list(dictionary) == columns and "pair" in dictionary["kind"]["Description"]
    assert dictionary["max_diameter_mm"]["Units"] == "mm"
    assert (group.table.parent, group.table.name, group.dictionary.name) == (
        cohort / GROUP, TABLE, "cohort_measurements.json")
    assert not [p.name for p in group.table.parent.iterdir() if p.name.startswith(".")]   # no temporary left


def test_summary_counts_what_was_built(cohort, group):
    summary = json.loads((cohort / GROUP / SUMMARY).read_text())
    assert summary["counts"] == {"participants": 3, "sessions": 5, "sessions_with_lesions": 4, "lesions": 6,
                                 "edema_regions": 3}
    assert summary["multiplicity_by_session"] == {"solitary": 2, "adjacent pair": 1, "multiple": 1, "none": 1}
    assert summary["sessions_with_longitudinally_extensive_edema"] == 2   # C3-C7 and C4-C6; C3-C4 is 2 levels
    assert summary["lesions_per_level"] == PER_LEVEL and summary["lesions_without_levels"] == 0
    assert list(summary["lesions_per_level"]) == ["C3", "C4", "C5", "C6", "C7"]   # anatomical order
    diameters = _session_lesion_diameters(cohort)
    q1, median, q3 = np.percentile(diameters, [25, 50, 75])
    d = summary["max_diameter_mm"]
    assert d["count"] == 6 and d["median"] == pytest.approx(median, abs=1e-6)
    assert (d["q1"], d["q3"], d["iqr"]) == pytest.approx((q1, q3, q3 - q1), abs=1e-6)
    assert (d["min"], d["max"]) == pytest.approx((min(diameters), max(diameters)))
    assert 4.0 < d["min"] < d["median"] < 10.0 and 28.0 < d["max"] < 31.0   # spheres of 4-8 mm, a 29 mm capsule
    assert (group.participants, group.sessions, group.lesions, group.edema) == (3, 5, 6, 3)


def test_the_group_level_knows_every_multiplicity_class():
    """It spells them out (not to import the measuring code): they must stay the measuring code's."""
    classes = group_level.MULTIPLICITY
    assert set(classes) == {k.value for k in MultiplicityClass} and classes[-1] == MultiplicityClass.NONE
    lesion_row = group_level.LesionRow.model_fields["multiplicity"].annotation
    assert set(lesion_row.__args__) == set(classes) - {"none"}


def _image(path: Path) -> np.ndarray:
    rgb = np.asarray(Image.open(path).convert("RGB"))
    assert rgb.shape[0] > 200 and rgb.shape[1] > 300
    assert (rgb < 250).any(axis=-1).mean() > 0.01   # something is drawn
    return rgb


def _near(rgb: np.ndarray, colour, tol: int = 40) -> np.ndarray:
    return (np.abs(rgb.astype(int) - colour) <= tol).all(axis=-1)


def test_plots_are_pngs_of_the_data(group):
    histogram, extent, level_map = (_image(p) for p in group.plots)
    assert [p.suffix for p in group.plots] == [".png"] * 3
    assert _near(histogram, LESION_RGB).sum() > 500   # the bars
    # one yellow point per edema region with a lesion inside: (8.4 mm, 5), (8.4 mm, 3), (6.4 mm, 2)
    yellow = (extent[..., 0] > 200) & (extent[..., 1] > 150) & (extent[..., 2] < 140)
    assert ndimage.label(yellow)[1] == 3
    # one bar per level C3..C7, superior first, as long as its count of lesions
    bars = _near(level_map, LESION_RGB)
    runs, n = ndimage.label(bars[:, np.argmax(bars.sum(axis=0))])
    assert n == len(PER_LEVEL)
    lengths = [bars[int(np.median(np.flatnonzero(runs == k)))].sum() for k in range(1, n + 1)]
    assert np.divide(lengths, lengths[0]) == pytest.approx(list(PER_LEVEL.values()), rel=0.03)


class _Page(HTMLParser):
    """The page's tags checked for nesting, the text of each table's cells and the images' sources."""

    VOID = frozenset({"meta", "img", "br", "link", "hr", "input"})

    def __init__(self):
        super().__init__()
        self.open, self.tables, self.images, self.links, self._table, self._cell = [], {}, [], [], None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        if tag == "a":
            self.links.append(attrs["href"])
        if tag == "table":
            self._table = self.tables.setdefault(attrs.get("id"), [])
        if tag == "tr" and self._table is not None:
            self._table.append([])
        if tag in ("td", "th"):
            self._cell = ""
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open.pop() == tag, f"</{tag}> closes nothing open"
        if tag in ("td", "th") and self._table is not None:
            self._table[-1].append(self._cell.strip())
            self._cell = None
        if tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    assert page.open == []
    return page


def test_page_holds_the_numbers_plots_and_table(cohort, group):
    page = _parse(group.page.read_text(encoding="utf-8"))
    assert group.page == cohort / GROUP / PAGE
    summary = dict(page.tables["summary"])
    median = np.median(_session_lesion_diameters(cohort))
    assert (summary["participants"], summary["sessions"], summary["lesions"], summary["edema regions"]) == (
        "3", "5", "6", "3")
    assert summary["max diameter, median (IQR)"].startswith(f"{median:.1f} mm (")
    assert summary["lesions per vertebral level"] == "C3 1 · C4 1 · C5 3 · C6 3 · C7 1"
    assert "adjacent pair 1" in summary["sessions by multiplicity"]
    assert len(page.images) == 3 and all(src.startswith("data:image/png;base64,") for src in page.images)
    header, *rows = page.tables["cohort"]
    assert len(rows) == 9 and header[:3] == ["participant", "session", "kind"]
    assert [r[4] for r in rows if r[2] == "lesion"] == ["C5", "C6", "C5-C6", "C3", "C7", "C4-C6"]
    assert TABLE in page.links


def test_page_shows_the_first_200_rows_and_says_so(tmp_path, cohort):
    out = tmp_path / "big"
    source = _table_path(cohort, "01", "01")
    for k in range(70):   # 70 sessions of 3 rows: 210 rows
        target = _table_path(out, f"{k:03d}", "01")
        target.parent.mkdir(parents=True)
        shutil.copy(source, target.with_name(target.name))
        _vouch(target)
    result = write_group(out)
    page = _parse(result.page.read_text(encoding="utf-8"))
    assert len(page.tables["cohort"]) == 1 + 200
    assert "The first 200 of 210 rows" in result.page.read_text(encoding="utf-8")
    assert len(pd.read_csv(result.table, sep="\t")) == 210 and result.sessions == 70


def test_a_cohort_without_lesions_still_gets_its_summary_and_plots(tmp_path, cohort):
    out = tmp_path / "none"
    target = _table_path(out, "02", None)
    target.parent.mkdir(parents=True)
    shutil.copy(_table_path(cohort, "02", None), target)
    _vouch(target)
    result = write_group(out)
    summary = json.loads(result.summary.read_text())
    assert summary["counts"]["lesions"] == 0 and summary["multiplicity_by_session"]["none"] == 1
    assert summary["max_diameter_mm"]["median"] is None and summary["lesions_per_level"] == {}
    for path in result.plots:
        _image(path)   # a message, not blank axes
    assert len(pd.read_csv(result.table, sep="\t")) == 0


@pytest.mark.parametrize("where", ["empty", "missing"])
def test_no_session_tables_says_run_the_participant_level(tmp_path, where):
    out = tmp_path / where
    if where == "empty":
        (out / "sub-01" / "anat").mkdir(parents=True)
    with pytest.raises(InputError) as err:
        write_group(out)
    assert str(out) in err.value.message and "participant level first" in err.value.message
    assert not (out / GROUP).exists()


def _replace_cell(text: str, column: str, value: str) -> str:
    header, first, *rest = text.splitlines()
    cells = first.split("\t")
    cells[header.split("\t").index(column)] = value
    return "\n".join([header, "\t".join(cells), *rest]) + "\n"


@pytest.mark.parametrize("damage, said", [
    (lambda t: _replace_cell(t, "max_diameter_mm", "wide"), "line 2 (lesion): max_diameter_mm 'wide'"),
    (lambda t: _replace_cell(t, "levels", "C9-C2"), "line 2 (lesion): levels 'C9-C2'"),
    (lambda t: _replace_cell(t, "levels", "C6-C5"), "line 2 (lesion): levels 'C6-C5': 'C6-C5' runs upwards"),
    (lambda t: _replace_cell(t, "kind", "blob"), "line 2: kind 'blob'"),
    (lambda t: t.replace("\tmax_diameter_mm\t", "\tdiameter\t", 1), "max_diameter_mm missing"),
    (lambda t: t.replace("\n", "\textra\n", 2).replace("\textra\n", "\n", 1), f"line 2 has more cells than the header's {len(derivatives.columns())}"),
    (lambda t: t.encode("utf-16"), "UTF-8"),
])
def test_a_malformed_table_is_named(tmp_path, cohort, damage, said):
    out = tmp_path / "out"
    shutil.copytree(cohort, out, ignore=shutil.ignore_patterns(GROUP))
    broken = _table_path(out, "01", "02")
    text = damage(broken.read_text(encoding="utf-8"))
    broken.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    with pytest.raises(InputError) as err:
        write_group(out)
    assert err.value.path == str(broken) and said in err.value.message, err.value.message
    assert not (out / GROUP).exists()   # nothing written from a cohort that could not be read


def test_a_table_in_another_subjects_folder_is_refused(tmp_path, cohort):
    out = tmp_path / "out"
    stray = derivatives.session_folder(out, "01", None) / _table_path(out, "02", None).name
    stray.parent.mkdir(parents=True)
    shutil.copy(_table_path(cohort, "02", None), stray)
    _vouch(stray)
    with pytest.raises(InputError, match="named for sub-02 but lies in"):
        write_group(out)


def test_a_table_without_its_provenance_record_is_left_out(tmp_path, cohort, group):
    """A table without its record (its session's run did not finish) is not read into the cohort."""
    out = tmp_path / "out"
    shutil.copytree(cohort, out, ignore=shutil.ignore_patterns(GROUP))
    stray = _table_path(out, "09", None)
    stray.parent.mkdir(parents=True)
    shutil.copy(_table_path(cohort, "01", "01"), stray)
    result = write_group(out)
    assert "sub-09" not in set(pd.read_csv(result.table, sep="\t")["participant_id"])
    assert (result.participants, result.lesions) == (group.participants, group.lesions)

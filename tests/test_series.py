"""Role guess from series names, contrast tags and timing; the guess can be overridden."""

import pytest

from lesionview.series import Role, SeriesInfo, guess_role


@pytest.mark.parametrize(("fields", "role"), [
    ({"series_description": "SAG T2 TSE"}, Role.T2),
    ({"series_description": "t2_tse_sag_384"}, Role.T2),
    ({"series_description": "SAG T1 TSE +C", "contrast_agent": "Gadoterate"}, Role.T1_POST),
    ({"series_description": "sag t1 post gd"}, Role.T1_POST),
    ({"series_description": "SAG T1 TSE"}, Role.T1),
    ({"series_description": "SAG STIR"}, Role.STIR),
    ({"protocol_name": "t2_tirm_sag"}, Role.STIR),
    ({"repetition_time_ms": 3500, "echo_time_ms": 100}, Role.T2),
    ({"repetition_time_ms": 450, "echo_time_ms": 9}, Role.T1),
    ({"repetition_time_ms": 450, "echo_time_ms": 9, "contrast_agent": "Dotarem"}, Role.T1_POST),
    ({"series_description": "localizer"}, Role.OTHER),
])
def test_guess_role(fields, role):
    guessed, reason = guess_role(SeriesInfo(**fields))
    assert guessed is role
    assert reason


def test_role_override_keeps_everything_else():
    info = SeriesInfo(series_description="ax 3d", series_uid="1.2.3")
    changed = info.with_role("T1+C", "radiologist")
    assert changed.role is Role.T1_POST and changed.role_reason == "radiologist"
    assert changed.series_uid == "1.2.3" and info.role is Role.OTHER
    with pytest.raises(ValueError):
        info.with_role("T3")


@pytest.mark.parametrize(("fields", "role"), [
    # Whole words: a run number or a level is not a weighting.
    ({"series_description": "REST1"}, Role.OTHER),
    ({"series_description": "task-rest_run-1_bold"}, Role.OTHER),
    ({"series_description": "ep2d_diff_mddw_20"}, Role.OTHER),
    ({"series_description": "DTI_30dir", "repetition_time_ms": 450, "echo_time_ms": 9}, Role.OTHER),
    ({"series_description": "gre_field_mapping", "repetition_time_ms": 400, "echo_time_ms": 5}, Role.OTHER),
    ({"series_description": "fmap_phasediff"}, Role.OTHER),
    ({"series_description": "SAG T1 T10-L1"}, Role.T1),
    # Tags say it even when the name does not.
    ({"series_description": "sag 1", "image_type": "ORIGINAL\\PRIMARY\\DIFFUSION\\NONE"}, Role.OTHER),
    ({"series_description": "ax t2", "image_type": "ORIGINAL\\PRIMARY\\M\\ND\\MOSAIC"}, Role.OTHER),
    ({"series_description": "spine 2", "sequence_name": "*epfid2d1_64"}, Role.OTHER),
    ({"series_description": "t2 map", "sequence_name": "*fm2d2r"}, Role.OTHER),
    # Names of the post-contrast T1 common in research data (BraTS "t1c", BIDS "ce-gd").
    ({"series_description": "t1c"}, Role.T1_POST),
    ({"series_description": "sub-01_ce-gadolinium_T1w"}, Role.T1_POST),
    ({"series_description": "T1_SAG+Gd"}, Role.T1_POST),
    ({"series_description": "t1_space_sag"}, Role.T1),
    ({"series_description": "T2* MEDIC AX"}, Role.OTHER),
    ({"series_description": "sagT2"}, Role.T2),
])
def test_guess_role_matches_whole_words_and_tags(fields, role):
    guessed, reason = guess_role(SeriesInfo(**fields))
    assert guessed is role, reason


def test_image_type_is_read_from_the_dicom_header():
    from pydicom.dataset import Dataset

    from lesionview.io.dicom.metadata import series_info

    ds = Dataset()
    ds.SeriesDescription = "sag 1"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "DIFFUSION", "NONE"]
    info = series_info(ds, source="x")
    assert info.image_type == "ORIGINAL\\PRIMARY\\DIFFUSION\\NONE"
    assert info.role is Role.OTHER and "DIFFUSION" in info.role_reason


@pytest.mark.parametrize(("fields", "role"), [
    # Dixon in/opposed phase are structural images, not phase maps.
    ({"series_description": "T1 Dixon opp phase", "contrast_agent": "Gadovist"}, Role.T1_POST),
    ({"series_description": "T2 Dixon in phase"}, Role.T2),
    # A run number does not hide the word: "REST1" is resting-state fMRI whatever its timing.
    ({"series_description": "REST1", "repetition_time_ms": 800, "echo_time_ms": 25}, Role.OTHER),
    ({"series_description": "dwi2"}, Role.OTHER),
    # A phase map says so in its ImageType.
    ({"series_description": "gre 2 echoes", "image_type": "ORIGINAL\\PRIMARY\\P\\ND"}, Role.OTHER),
])
def test_guess_role_dixon_phases_and_run_numbers(fields, role):
    guessed, reason = guess_role(SeriesInfo(**fields))
    assert guessed is role, reason

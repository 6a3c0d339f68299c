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

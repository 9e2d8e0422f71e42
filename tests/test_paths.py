"""Where things live, and the artifacts folder refused in one line when it cannot be one."""

from __future__ import annotations

import os

import pytest

from tasks import paths
from tasks.errors import InputError


def test_an_artifacts_folder_that_can_be_made_is_accepted_and_not_made(monkeypatch, tmp_path):
    monkeypatch.setenv("SEQFLOW_ARTIFACTS", str(tmp_path / "deep" / "artifacts"))
    paths.check_artifacts_dir()
    assert not (tmp_path / "deep").exists()
    monkeypatch.setenv("SEQFLOW_ARTIFACTS", str(tmp_path))
    paths.check_artifacts_dir()


@pytest.mark.parametrize("where", ["itself", "parent"])
def test_an_artifacts_folder_blocked_by_a_file_names_the_setting(monkeypatch, tmp_path, where):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    target = blocker if where == "itself" else blocker / "a" / "b"
    monkeypatch.setenv("SEQFLOW_ARTIFACTS", str(target))
    with pytest.raises(InputError) as info:
        paths.check_artifacts_dir()
    rule = "not a folder (a file is there)" if where == "itself" else f"{blocker} is a file, so no folder can be made there"
    assert str(info.value) == f"SEQFLOW_ARTIFACTS = '{target}': {rule}; {paths.ARTIFACTS_ADVICE}"


def test_an_unwritable_artifacts_folder_names_the_folder(monkeypatch, tmp_path):
    """Tests run as root, whom no permission bit stops: ``os.access`` is made to answer as for a user."""
    monkeypatch.setenv("SEQFLOW_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(InputError) as info:
        paths.check_artifacts_dir()
    assert str(info.value) == (f"SEQFLOW_ARTIFACTS = '{tmp_path / 'artifacts'}': {tmp_path} cannot be written "
                               f"(permission denied); {paths.ARTIFACTS_ADVICE}")


def test_the_default_folder_is_named_by_its_path_when_the_setting_is_unset(monkeypatch, tmp_path):
    monkeypatch.delenv("SEQFLOW_ARTIFACTS")
    monkeypatch.setattr(paths, "PROJECT_ROOT", tmp_path)
    (tmp_path / "artifacts").write_text("x")
    with pytest.raises(InputError) as info:
        paths.check_artifacts_dir()
    assert str(info.value) == (f"{tmp_path / 'artifacts'}: not a folder (a file is there); move it away, or set "
                               "SEQFLOW_ARTIFACTS to another folder")

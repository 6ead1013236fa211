"""assignment.toml: every key optional, and a wrong one refused with the list of the valid ones."""

import pytest

from grader.config import SECTIONS, TOP_LEVEL, ConfigError, Limits, load_assignment


def solutions_with(tmp_path, toml: str):
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "assignment.toml").write_text(toml, encoding="utf-8")
    return tmp_path


def refusal(tmp_path, toml: str) -> str:
    with pytest.raises(ConfigError) as error:
        load_assignment("demo", solutions_with(tmp_path, toml))
    return str(error.value)


def test_an_empty_assignment_toml_gives_every_default(tmp_path):
    spec = load_assignment("demo", solutions_with(tmp_path, ""))
    assert (spec.title, spec.notebook, spec.limits) == ("demo", "demo.ipynb", Limits())
    assert not spec.submission_limit.enabled and spec.late.points_per_day == 0


def test_an_unknown_top_level_key_is_refused_with_the_valid_ones(tmp_path):
    text = refusal(tmp_path, 'titel = "Signals"\n')
    assert "unknown setting(s) titel" in text and "the valid ones are title, notebook" in text


def test_an_unknown_key_in_a_section_is_refused_with_that_sections_valid_ones(tmp_path):
    text = refusal(tmp_path, "[limits]\ncall_secs = 2.0\n")
    assert "[limits]: unknown setting(s) call_secs" in text
    assert "cell_seconds, call_seconds, memory_mb" in text


def test_an_unknown_section_is_refused_with_the_valid_ones(tmp_path):
    text = refusal(tmp_path, "[late]\npoints_per_day = 1.0\n")
    assert "unknown setting(s) late" in text and "late_policy" in text and "submission_limit" in text


def test_a_value_of_the_wrong_type_is_refused(tmp_path):
    assert "call_seconds must be a float" in refusal(tmp_path, '[limits]\ncall_seconds = "2"\n')


def test_the_sections_are_the_ones_the_documentation_lists():
    assert TOP_LEVEL == ("title", "notebook")
    assert set(SECTIONS) == {"limits", "late_policy", "submission_limit", "environment"}


# ---- which assignment is graded -----------------------------------------------------------------


def installed(tmp_path, *names: str):
    for name in names:
        (tmp_path / name).mkdir()
        (tmp_path / name / "assignment.toml").write_text("", encoding="utf-8")
    return tmp_path


def unknown(known) -> str:
    return f"cannot tell among {list(known)}"


def test_the_assignment_named_explicitly_wins_over_the_notebooks_and_the_installed_one(tmp_path):
    from grader.config import assignment_name

    root = installed(tmp_path, "only")
    assert assignment_name("given", solutions_root=root, notebook_names="mine", unknown=unknown) == "given"
    assert assignment_name(None, solutions_root=root, notebook_names="mine", unknown=unknown) == "mine"
    assert assignment_name(None, solutions_root=root, unknown=unknown) == "only"


def test_without_a_name_several_or_no_installed_assignments_are_a_config_error_in_the_callers_words(tmp_path):
    from grader.config import UnknownAssignment, assignment_name, resolve_assignment

    root = installed(tmp_path, "one", "two")
    with pytest.raises(UnknownAssignment, match=r"cannot tell among \['one', 'two'\]") as error:
        assignment_name(None, solutions_root=root, unknown=unknown)
    assert isinstance(error.value, ConfigError) and isinstance(error.value, ValueError)
    with pytest.raises(UnknownAssignment, match=r"\[\]"):
        resolve_assignment("", solutions_root=tmp_path / "none", unknown=unknown)
    assert resolve_assignment(None, solutions_root=root, notebook_names="two", unknown=unknown).name == "two"


def test_the_environment_does_not_choose_the_solutions_below_the_command_line(tmp_path, monkeypatch):
    from grader.config import default_solutions_root

    monkeypatch.setenv("GRADER_SOLUTIONS", str(tmp_path))
    assert default_solutions_root() != tmp_path


def test_an_assignments_environment_is_read_and_a_wrong_one_is_refused_with_the_fix(tmp_path):
    folder = tmp_path / "audio"
    folder.mkdir()
    (folder / "assignment.toml").write_text('[environment]\nadd = ["librosa==0.11.0"]\n', encoding="utf-8")
    assert load_assignment("audio", tmp_path).environment.add == ("librosa==0.11.0",)
    (folder / "assignment.toml").write_text('[environment]\nadd = ["librosa"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="not pinned; write it as NAME==VERSION"):
        load_assignment("audio", tmp_path)

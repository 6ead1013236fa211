"""A batch never stops for one entry of an export: odd names, clashes and bombs are skipped with a
note in grades.csv and the report, and everybody else is graded. Every zip here is small: a bomb's
size is what it would unpack to, and the caps stop it long before."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from test_batch import EXPORT_METADATA, REFERENCE, grade_quietly, read_csv

from grader.batch.inputs import MAX_RATIO, safe_id, unpack_zip

TOP = "assignment_77_export"


def export_zip(path: Path, extra: list[tuple[str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{TOP}/submission_metadata.yml", EXPORT_METADATA)
        zf.write(REFERENCE, f"{TOP}/submission_1001/nn_basics.ipynb")
        for name, data in extra:
            zf.writestr(name, data)
    return path


def test_a_long_name_and_a_file_folder_clash_are_skipped_and_everyone_else_is_graded(tmp_path):
    archive = export_zip(
        tmp_path / "export.zip",
        [
            (f"{TOP}/submission_1002/{'n' * 300}.ipynb", b"{}"),
            (f"{TOP}/submission_1002/work", b"a file"),
            (f"{TOP}/submission_1002/work/mine.ipynb", b"{}"),
        ],
    )
    summary = grade_quietly(archive, tmp_path / "out", report=True)
    rows = {r["submission"]: r for r in read_csv(tmp_path / "out" / "grades.csv")}
    assert rows["submission_1001"]["total"] == "20"
    notes = rows["submission_1002"]["notes"]
    assert "a name longer than 255 bytes" in notes and "a file and a folder have the same name" in notes
    page = summary.report.read_text(encoding="utf-8")
    assert "Submissions with files that could not be read" in page


def test_an_export_bomb_is_refused_by_its_compression_ratio_before_it_is_unpacked(tmp_path):
    bomb = b"\0" * (64 << 20)  # 64 MB of zeros packs into about 64 KB
    archive = export_zip(tmp_path / "export.zip", [(f"{TOP}/submission_1002/bomb.ipynb", bomb)])
    skipped = unpack_zip(archive, tmp_path / "unpacked")
    assert [s.why for s in skipped] == [f"compressed more than {MAX_RATIO} times (a zip bomb?)"]
    assert not (tmp_path / "unpacked" / TOP / "submission_1002" / "bomb.ipynb").exists()
    assert (tmp_path / "unpacked" / TOP / "submission_1001" / "nn_basics.ipynb").is_file()


def test_an_entry_whose_directory_understates_its_size_is_skipped_and_nothing_half_written_stays(tmp_path):
    name = f"{TOP}/submission_1002/lies.ipynb"
    archive = export_zip(tmp_path / "export.zip", [(name, b"x" * 4096)])
    data = bytearray(archive.read_bytes())
    record = data.find(b"PK\x01\x02" + bytes(0), data.find(b"PK\x01\x02"))
    while data[record + 46 : record + 46 + len(name)] != name.encode():
        record = data.find(b"PK\x01\x02", record + 4)
    data[record + 24 : record + 28] = (10).to_bytes(4, "little")  # the central directory's unpacked size
    archive.write_bytes(bytes(data))
    skipped = unpack_zip(archive, tmp_path / "unpacked")
    assert [s.why for s in skipped] == ["it could not be unpacked (BadZipFile)"]
    assert not (tmp_path / "unpacked" / name).exists()
    assert (tmp_path / "unpacked" / TOP / "submission_1001" / "nn_basics.ipynb").is_file()


def test_submissions_named_like_the_batchs_own_files_cannot_replace_them(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("grades.csv", "report.html", "alice"):
        shutil.copyfile(REFERENCE, inputs / f"{name}.ipynb")
    summary = grade_quietly(inputs, tmp_path / "out", report=True)
    assert (tmp_path / "out" / "grades.csv").is_file() and summary.report.is_file()
    ids = sorted(r["submission"] for r in read_csv(tmp_path / "out" / "grades.csv"))
    assert ids == ["alice", "submission-grades.csv", "submission-report.html"]
    assert safe_id("GRADES.CSV") == "submission-GRADES.CSV"

"""load_text_data: bad files get one line naming the file and the line."""

import pytest

from kerasbig.data import load_text_data

pytestmark = pytest.mark.backend_agnostic


def _write(path, lines):
    path.write_text("".join(line + "\n" for line in lines))
    return path


def _rows(labels):
    return ["label\ttext"] + [
        f"{label}\treview number {i}" for i, label in enumerate(labels)
    ]


def test_a_stray_integer_label_names_its_line(tmp_path):
    labels = [0, 1] * 10
    labels[7] = 7
    path = _write(tmp_path / "reviews.tsv", _rows(labels))
    with pytest.raises(
        ValueError,
        match=rf"{path} line 9: integer labels must number the classes "
        r"0..K-1 .* Received: label 7, outside 0..2 for 3 distinct labels; "
        r"no row has \[2\]",
    ):
        load_text_data(path)


def test_a_nan_among_integer_labels_names_its_line(tmp_path):
    labels = [0, 1] * 10
    labels[4] = "nan"
    path = _write(tmp_path / "reviews.tsv", _rows(labels))
    with pytest.raises(
        ValueError,
        match=rf"{path} line 6: the label column mixes integers and other "
        r"values. Received: label 'nan' \(19 integer labels, 1 others\)",
    ):
        load_text_data(path)


def test_header_only_file(tmp_path):
    path = _write(tmp_path / "reviews.csv", ["label,text"])
    with pytest.raises(
        ValueError, match=rf"{path} has a header row and no examples"
    ):
        load_text_data(path)


def test_short_row_names_its_line(tmp_path):
    path = _write(tmp_path / "r.tsv", _rows([0, 1, 0, 1]) + ["1"])
    with pytest.raises(ValueError, match=rf"{path} line 6: every row must be"):
        load_text_data(path)


def test_empty_folder_says_what_it_expected(tmp_path):
    (tmp_path / "positive").mkdir()
    with pytest.raises(
        ValueError,
        match=r"folder .* holds no examples: expected train.tsv/dev.tsv "
        r"files, or one subfolder of .txt files per class. Received: 1 "
        r"subfolder\(s\)",
    ):
        load_text_data(tmp_path)


def test_glue_folder_checks_each_file(tmp_path):
    _write(tmp_path / "train.tsv", _rows([0, 1] * 6))
    _write(tmp_path / "dev.tsv", _rows([0, 1, 5, 1]))
    with pytest.raises(ValueError, match=r"dev.tsv line 4: integer labels"):
        load_text_data(tmp_path)


def test_good_files_still_load(tmp_path):
    path = _write(tmp_path / "reviews.tsv", _rows(["pos", "neg"] * 10))
    data = load_text_data(path)
    assert data.class_names == ["neg", "pos"]
    assert (
        len(data.train[0]) + len(data.validation[0]) + len(data.test[0]) == 20
    )

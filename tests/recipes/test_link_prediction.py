"""The link-prediction recipe: an offline smoke run on the bundled
Nations graph with the one report schema, each model, a triples folder,
bad data named, and (large) the Kinships bar."""

import pytest


def test_smoke_run_needs_no_network(load_recipe, check_report, tmp_path):
    recipe = load_recipe("link_prediction")
    report = recipe.main(["--smoke", "--output-dir", str(tmp_path)])
    check_report(report, "link_prediction", tmp_path)
    assert report["entities"] == 14 and report["relations"] == 55
    ranking = report["ranking"]
    assert set(ranking) == {"valid", "test"}
    assert set(ranking["test"]) == {"head", "tail", "both"}
    assert report["headline"]["value"] == ranking["test"]["both"]["mrr"]
    assert "val_mrr" in (tmp_path / "log.csv").read_text()


@pytest.mark.tensorflow_per_push
@pytest.mark.parametrize("model", ["distmult", "transe", "rotate", "rgcn"])
def test_every_model_runs(load_recipe, model, tmp_path):
    recipe = load_recipe("link_prediction")
    report = recipe.main(
        ["--smoke", "--model", model, "--output-dir", str(tmp_path)]
    )
    assert 0 < report["test_mrr"] <= 1


@pytest.mark.tensorflow_per_push
def test_a_triples_folder_and_its_bad_lines(load_recipe, tmp_path):
    folder = tmp_path / "kg"
    folder.mkdir()
    people = "abcdefgh"
    pairs = zip(people, people[1:], strict=False)
    train = [f"{a}\tknows\t{b}\n" for a, b in pairs]
    (folder / "train.txt").write_text("".join(train))
    (folder / "valid.txt").write_text("a\tknows\tc\n")
    (folder / "test.txt").write_text("b\tknows\td\n")
    recipe = load_recipe("link_prediction")
    args = ["--smoke", "--data", str(folder)]
    report = recipe.main([*args, "--output-dir", str(tmp_path / "run")])
    assert report["examples"] == {"train": 7, "validation": 1, "test": 1}
    (folder / "test.txt").write_text("b\tknows\tzed\n")
    with pytest.raises(ValueError, match=r"test.txt line 1: entity 'zed'"):
        recipe.main([*args, "--output-dir", str(tmp_path / "again")])


@pytest.mark.large
@pytest.mark.tensorflow_only
def test_kinships_complex_reaches_the_published_hits_at_10(
    load_recipe, shared_data, tmp_path
):
    # PyKEEN's best published ComplEx configuration: Hits@10 0.978.
    recipe = load_recipe("link_prediction")
    report = recipe.main(
        ["--data", str(shared_data / "kg" / "kinships")]
        + ["--output-dir", str(tmp_path)]
    )
    assert report["test_hits@10"] >= 0.97, report["ranking"]["test"]

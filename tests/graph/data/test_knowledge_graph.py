"""load_triples: the shared Nations and Kinships folders with PyKEEN's
ids, filtered answers, and bad files named by file and line."""

import numpy as np
import pytest
from references import reference
from references import requires

from kerasbig.graph import load_triples

pykeen_triples = reference("pykeen.triples")


@pytest.mark.backend_agnostic
@pytest.mark.parametrize(
    "name, sizes",
    [
        ("nations", (14, 55, 1592, 199, 201)),
        ("kinships", (104, 25, 8544, 1068, 1074)),
    ],
)
def test_shared_folders_load_with_their_published_sizes(
    shared_data, name, sizes
):
    graph = load_triples(shared_data / "kg" / name)
    assert (
        graph.num_entities,
        graph.num_relations,
        len(graph.train),
        len(graph.valid),
        len(graph.test),
    ) == sizes
    assert graph.train.dtype == np.int32


@pytest.mark.backend_agnostic
@requires(pykeen_triples, "pykeen")
def test_ids_are_pykeens(shared_data):
    folder = shared_data / "kg" / "nations"
    graph = load_triples(folder)
    factory = pykeen_triples.TriplesFactory.from_path(folder / "train.txt")
    assert factory.entity_to_id == {
        name: i for i, name in enumerate(graph.entities)
    }
    assert factory.relation_to_id == {
        name: i for i, name in enumerate(graph.relations)
    }
    test = pykeen_triples.TriplesFactory.from_path(
        folder / "test.txt",
        entity_to_id=factory.entity_to_id,
        relation_to_id=factory.relation_to_id,
    )
    # PyKEEN keeps triples sorted; compare as sets of rows.
    assert {tuple(row) for row in test.mapped_triples.tolist()} == {
        tuple(row) for row in graph.test.tolist()
    }


def _write(folder, **splits):
    folder.mkdir(exist_ok=True)
    for split, text in splits.items():
        (folder / f"{split}.txt").write_text(text)
    return folder


@pytest.mark.backend_agnostic
def test_known_answers_cover_every_split(tmp_path):
    folder = _write(
        tmp_path / "kg",
        train="a\tr\tb\na\tr\tc\nb\ts\tc\n",
        valid="c\tr\ta\n",
        test="b\tr\tc\n",
    )
    graph = load_triples(folder)
    a, b, c = (graph.entities.index(n) for n in "abc")
    query = np.array([[a, graph.relations.index("r"), b]])
    tails = graph.known_answers(query, "tail")
    assert tails[0].tolist() == [False, True, True]  # (a, r, b) and (a, r, c)
    heads = graph.known_answers(graph.test, "head")  # (?, r, c)
    assert np.flatnonzero(heads[0]).tolist() == [a, b]  # train and test
    with pytest.raises(ValueError, match="`target` must be one of"):
        graph.known_answers(query, "relation")


@pytest.mark.backend_agnostic
@pytest.mark.parametrize(
    "splits, message",
    [
        (
            {"train": "a\tr\tb\nbad line\n", "test": "a\tr\tb\n"},
            r"train.txt line 2: expected head<TAB>relation<TAB>tail",
        ),
        (
            {"train": "a\tr\tb\n", "test": "a\tr\tb\n\na\tq\tb\n"},
            r"test.txt line 3: relation 'q' is not in the training",
        ),
        (
            {"train": "a\tr\tb\n", "valid": "z\tr\tb\n", "test": "a\tr\tb\n"},
            r"valid.txt line 1: entity 'z'",
        ),
        ({"train": "a\tr\tb\n"}, r"has no test.txt"),
        ({"train": "\n", "test": "a\tr\tb\n"}, r"holds no triples"),
    ],
)
def test_bad_files_are_named(tmp_path, splits, message):
    folder = _write(tmp_path / "kg", **splits)
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        load_triples(folder)


@pytest.mark.backend_agnostic
def test_one_to_n_data_has_every_known_tail_and_inverse_heads(tmp_path):
    folder = _write(
        tmp_path / "kg", train="a\tr\tb\na\tr\tc\nb\ts\tc\n", test="a\tr\tb\n"
    )
    graph = load_triples(folder)
    a, b, c = (graph.entities.index(n) for n in "abc")
    r, s = (graph.relations.index(n) for n in "rs")
    queries, labels = graph.one_to_n_data(inverse_relations=False)
    found = {
        (h, rel): set(np.flatnonzero(row).tolist())
        for (h, rel, _), row in zip(queries.tolist(), labels, strict=True)
    }
    assert found == {(a, r): {b, c}, (b, s): {c}}
    queries, labels = graph.one_to_n_data()
    found = {
        (h, rel): set(np.flatnonzero(row).tolist())
        for (h, rel, _), row in zip(queries.tolist(), labels, strict=True)
    }
    inverse = graph.num_relations
    assert found[(c, r + inverse)] == {a} and found[(c, s + inverse)] == {b}
    assert len(found) == 5 and labels.dtype == np.float32


@pytest.mark.backend_agnostic
def test_sparse_labels_are_the_dense_ones_a_batch_at_a_time(shared_data):
    from kerasbig.data import ArrayBatches
    from kerasbig.graph import AnswerLabels

    graph = load_triples(shared_data / "kg" / "nations")
    queries, dense = graph.one_to_n_data()
    same_queries, sparse = graph.one_to_n_data(sparse_labels=True)
    np.testing.assert_array_equal(queries, same_queries)
    assert isinstance(sparse, AnswerLabels) and sparse.shape == dense.shape
    # 4 bytes an answer instead of 4 a query and entity.
    assert sparse.answers.nbytes == 4 * dense.sum()
    rows = np.array([5, 0, len(dense) - 1, 5])  # any order, repeats
    np.testing.assert_array_equal(sparse[rows], dense[rows])
    np.testing.assert_array_equal(sparse[3], dense[3])
    np.testing.assert_array_equal(sparse[2:9], dense[2:9])
    # fit()'s batches: each the dense rows of its queries.
    batches = ArrayBatches(queries, sparse, batch_size=64, seed=0)
    seen = 0
    for index in range(len(batches)):
        x, y = batches[index]
        order = batches.order[index * 64 : index * 64 + 64]
        np.testing.assert_array_equal(x, queries[order])
        np.testing.assert_array_equal(y, dense[order])
        seen += len(x)
    assert seen == len(queries)
    with pytest.raises(ValueError, match="offsets\\[-1\\] must equal"):
        AnswerLabels(np.array([0, 3]), np.array([1, 2]), 4)

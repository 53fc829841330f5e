"""Knowledge graphs as triples: reading `train/valid/test` files, the
entity and relation vocabularies, and the known answers that filtered
ranking leaves out."""

import pathlib

import numpy as np

SPLITS = ("train", "valid", "test")
"""The splits `load_triples` reads, from `<split>.txt` (or `.tsv`)."""

TARGETS = ("head", "tail")
"""What a link-prediction query asks for: `(?, r, t)` or `(h, r, ?)`."""


class KnowledgeGraph:
    """Triples as int arrays `(n, 3)` of `(head, relation, tail)` ids, with
    the vocabularies that name them.

    Ids number the names in sorted order (PyKEEN's labelling, so ids
    agree with a PyKEEN `TriplesFactory` of the same files).

    Attributes:
        entities: entity names; `entities[i]` is id `i`.
        relations: relation names.
        train, valid, test: `(n, 3)` int32 triples (`valid` may be empty).
    """

    def __init__(self, entities, relations, train, valid, test):
        self.entities = list(entities)
        self.relations = list(relations)
        self.train = train
        self.valid = valid
        self.test = test
        self._answers = None

    @property
    def num_entities(self):
        return len(self.entities)

    @property
    def num_relations(self):
        return len(self.relations)

    def __repr__(self):
        return (
            f"KnowledgeGraph(entities={self.num_entities}, relations="
            f"{self.num_relations}, train={len(self.train)}, valid="
            f"{len(self.valid)}, test={len(self.test)})"
        )

    def known_answers(self, triples, target):
        """A `(len(triples), num_entities)` bool mask of every answer to
        each triple's query that some split holds: for `target="tail"`,
        the tails `t'` with `(h, r, t')` known; for `"head"`, the heads.
        This is the filter of the filtered setting (Bordes et al. 2013);
        each triple's own answer is in it (`ranks` never filters the true
        candidate).
        """
        if target not in TARGETS:
            raise ValueError(
                f"KnowledgeGraph.known_answers: `target` must be one of "
                f"{list(TARGETS)}. Received: target={target!r}"
            )
        if self._answers is None:
            self._answers = _index_answers(
                np.concatenate([self.train, self.valid, self.test])
            )
        triples = np.asarray(triples)
        mask = np.zeros((len(triples), self.num_entities), bool)
        answers = self._answers[target]
        for row, (head, relation, tail) in enumerate(triples.tolist()):
            key = (relation, tail) if target == "head" else (head, relation)
            mask[row, answers[key]] = True
        return mask

    def one_to_n_data(
        self, split="train", inverse_relations=True, sparse_labels=False
    ):
        """`(queries, labels)` for one-to-N training: each distinct `(h,
        r)` of the split as a query triple `(h, r, 0)` (the tail column
        is not read) and its multi-hot known tails `(queries,
        num_entities)` float32. With `inverse_relations`, each `(?, r,
        t)` is also the query `(t, r + num_relations)` with the heads as
        labels (train the model with `inverse_relations=True`).

        Dense labels take `4 * queries * num_entities` bytes (8.7 GB for
        FB15k-237 with inverse relations). With `sparse_labels=True` the
        labels are `AnswerLabels`, the answer lists (4 bytes an answer),
        made dense a batch at a time: feed them through
        `kerasbig.data.ArrayBatches` (or `fit_to_folder`, which does).

        Example:

            >>> import numpy as np
            >>> from kerasbig.graph import KnowledgeGraph
            >>> graph = KnowledgeGraph(["a", "b", "c"], ["r"],
            ...                        np.array([[0, 0, 1], [0, 0, 2]]),
            ...                        np.zeros((0, 3)), np.zeros((0, 3)))
            >>> queries, labels = graph.one_to_n_data(sparse_labels=True)
            >>> queries.tolist(), labels[np.array([0])].tolist()
            ([[0, 0, 0], [1, 1, 0], [2, 1, 0]], [[0.0, 1.0, 1.0]])
        """
        triples = getattr(self, split)
        answers = {}
        relations = self.num_relations
        for head, relation, tail in triples.tolist():
            answers.setdefault((head, relation), []).append(tail)
            if inverse_relations:
                answers.setdefault((tail, relation + relations), []).append(
                    head
                )
        queries = np.array([(h, r, 0) for h, r in answers], "int32")
        lists = list(answers.values())
        labels = AnswerLabels(
            np.concatenate([[0], np.cumsum([len(a) for a in lists])]),
            np.array([e for found in lists for e in found], "int32"),
            self.num_entities,
        )
        if not sparse_labels:
            labels = labels[np.arange(len(lists))]
        return queries.reshape(-1, 3), labels


class AnswerLabels:
    """Multi-hot one-to-N labels kept as answer lists and made dense a
    batch at a time: `labels[rows]` is the float32 `(len(rows),
    num_entities)` multi-hot of those queries' answers.

    What `KnowledgeGraph.one_to_n_data(sparse_labels=True)` returns, in
    memory that grows with the answers (4 bytes each), not queries times
    entities; `kerasbig.data.ArrayBatches` and `fit_to_folder` index it
    like an array.

    Args:
        offsets: int `(queries + 1,)`: query `i`'s answers are
            `answers[offsets[i]:offsets[i + 1]]`.
        answers: int `(total answers,)` entity ids.
        num_entities: the label width.

    Example:

        >>> import numpy as np
        >>> from kerasbig.graph import AnswerLabels
        >>> labels = AnswerLabels(np.array([0, 2, 3]), np.array([1, 3, 0]), 4)
        >>> len(labels), labels.shape
        (2, (2, 4))
        >>> labels[np.array([1, 0])].tolist()
        [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 1.0]]
    """

    def __init__(self, offsets, answers, num_entities):
        self.offsets = np.asarray(offsets, "int64")
        self.answers = np.asarray(answers, "int32")
        self.num_entities = int(num_entities)
        if self.offsets[-1] != len(self.answers):
            raise ValueError(
                "AnswerLabels: offsets[-1] must equal the number of "
                f"answers. Received: offsets[-1]={self.offsets[-1]}, "
                f"{len(self.answers)} answers"
            )

    def __len__(self):
        return len(self.offsets) - 1

    @property
    def shape(self):
        return (len(self), self.num_entities)

    def __getitem__(self, rows):
        rows = np.arange(len(self))[rows]
        dense = np.zeros((np.size(rows), self.num_entities), "float32")
        starts, ends = self.offsets[rows], self.offsets[rows + 1]
        counts = ends - starts
        # Each answer's position among all answers, and its batch row.
        batch_rows = np.repeat(np.arange(np.size(rows)), counts)
        within = np.arange(counts.sum()) - np.repeat(
            np.cumsum(counts) - counts, counts
        )
        dense[batch_rows, self.answers[np.repeat(starts, counts) + within]] = 1
        return dense.reshape(np.shape(rows) + (self.num_entities,))


def _index_answers(triples):
    heads, tails = {}, {}
    for head, relation, tail in triples.tolist():
        tails.setdefault((head, relation), []).append(tail)
        heads.setdefault((relation, tail), []).append(head)
    return {"head": heads, "tail": tails}


def load_triples(folder):
    """Reads a knowledge graph from `folder`: `train.txt`, `valid.txt`
    (optional) and `test.txt` (or `.tsv`), one `head<TAB>relation<TAB>
    tail` triple per line, the layout of PyKEEN's and most published
    benchmark files.

    The vocabularies are the entities and relations of the training
    triples; a validation or test triple naming anything else stops with
    its file and line (link prediction ranks known entities only). So
    does a line without exactly three tab-separated fields.

    Args:
        folder: the folder holding the split files.

    Returns:
        A `KnowledgeGraph`.

    Example:

        >>> import os, tempfile
        >>> from kerasbig.graph import load_triples
        >>> folder = tempfile.mkdtemp()
        >>> rows = {"train": "a\\tlikes\\tb\\nb\\tlikes\\tc\\n",
        ...         "test": "a\\tlikes\\tc\\n"}
        >>> for split, text in rows.items():
        ...     with open(os.path.join(folder, split + ".txt"), "w") as f:
        ...         _ = f.write(text)
        >>> graph = load_triples(folder)
        >>> graph
        KnowledgeGraph(entities=3, relations=1, train=2, valid=0, test=1)
        >>> graph.test.tolist()
        [[0, 0, 2]]
    """
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"load_triples: expected a folder of train/valid/test triple "
            f"files. Received: {folder} (not a folder)"
        )
    named = {}
    for split in SPLITS:
        path = _split_file(folder, split)
        if path is None:
            if split != "valid":
                raise FileNotFoundError(
                    f"load_triples: {folder} has no {split}.txt (or "
                    f"{split}.tsv). Received: "
                    f"{sorted(p.name for p in folder.iterdir())}"
                )
            named[split] = (None, [])
            continue
        named[split] = (path, _read_rows(path))
    train_path, train_rows = named["train"]
    if not train_rows:
        raise ValueError(f"load_triples: {train_path} holds no triples")
    entities = sorted(
        {row[0] for row, _ in train_rows} | {row[2] for row, _ in train_rows}
    )
    relations = sorted({row[1] for row, _ in train_rows})
    entity_ids = {name: i for i, name in enumerate(entities)}
    relation_ids = {name: i for i, name in enumerate(relations)}
    arrays = {}
    for split, (path, rows) in named.items():
        ids = np.zeros((len(rows), 3), "int32")
        for index, ((head, relation, tail), line) in enumerate(rows):
            for name, vocabulary, what in (
                (head, entity_ids, "entity"),
                (relation, relation_ids, "relation"),
                (tail, entity_ids, "entity"),
            ):
                if name not in vocabulary:
                    raise ValueError(
                        f"load_triples: {path} line {line}: {what} "
                        f"{name!r} is not in the training triples "
                        f"({train_path.name}); link prediction ranks the "
                        "entities and relations it was trained on"
                    )
            ids[index] = (
                entity_ids[head],
                relation_ids[relation],
                entity_ids[tail],
            )
        arrays[split] = ids
    return KnowledgeGraph(entities, relations, **arrays)


def _split_file(folder, split):
    for suffix in (".txt", ".tsv"):
        path = folder / f"{split}{suffix}"
        if path.is_file():
            return path
    return None


def _read_rows(path):
    """`[((head, relation, tail), line number), ...]`, blank lines
    skipped."""
    rows = []
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != 3 or not all(f.strip() for f in fields):
                raise ValueError(
                    f"load_triples: {path} line {number}: expected "
                    "head<TAB>relation<TAB>tail. Received: "
                    f"{line[:120]!r}"
                )
            rows.append((tuple(f.strip() for f in fields), number))
    return rows

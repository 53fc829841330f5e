"""Text classification data: tfds sets, TSV/CSV files and folders, and
their tf.data pipelines."""

import collections
import csv
import pathlib

import keras
import numpy as np

from kerasbig._optional import import_optional
from kerasbig.data._tfds import prepared_builder
from kerasbig.data.digits import stratified_split

TextData = collections.namedtuple(
    "TextData", ["train", "validation", "test", "class_names"]
)
TextData.__doc__ = """Splits of a text classification set: each a `(texts,
labels)` pair of NumPy arrays (str and int32); `test` may be None. Class
names are in label order."""

HEADER_NAMES = {"label", "labels", "class", "category", "target", "y"}
SPLIT_FILES = {
    "train": ("train",),
    "validation": ("dev", "validation", "valid", "val"),
    "test": ("test",),
}


def load_text_data(
    source="tfds:imdb_reviews",
    validation_fraction=0.1,
    seed=0,
    max_samples=None,
    data_dir=None,
):
    """Loads a text classification data set into memory.

    Sources:

    - `"tfds:<name>"` (default `tfds:imdb_reviews`): a TensorFlow
      Datasets set with text and label (`as_supervised`); downloads
      unless prepared in `data_dir`.
    - a `.tsv` or `.csv` file of `label, text` rows, divided per class
      into train, validation and test. A first row is taken for a header
      when its label cell reads `label`, `class`, `category`, `target` or
      `y`, or is the only non-integer label.
    - a folder holding `train.tsv` and `dev.tsv` (or `validation`,
      `valid`, `val`) and optionally `test.tsv` (or `.csv`): the GLUE
      layout (SST-2, for example).
    - a folder in the `keras.utils.text_dataset_from_directory` layout:
      one subfolder of `.txt` files per class, or `train/` and `test/`
      folders of such subfolders (the aclImdb layout).

    Missing validation splits are cut from the training split, per class.
    Labels that are not integers are numbered in sorted order.

    Args:
        source: see above.
        validation_fraction: share of the training data held out when
            the source has no validation split (and of the test split for
            a single file).
        seed: seed of those splits and of `max_samples`.
        max_samples: optional cap on the training split (random subset).
        data_dir: tfds data folder.

    Returns:
        A `TextData` namedtuple.

    Example:

        >>> import os, tempfile
        >>> from kerasbig.data import load_text_data
        >>> path = os.path.join(tempfile.mkdtemp(), "reviews.tsv")
        >>> with open(path, "w") as file:
        ...     _ = file.write("label\\ttext\\n" + "".join(
        ...         f"{i % 2}\\treview number {i}\\n" for i in range(40)))
        >>> data = load_text_data(path)
        >>> len(data.train[0]), len(data.validation[0]), len(data.test[0])
        (32, 4, 4)
    """
    source = str(source)
    if source.startswith("tfds:"):
        splits, names = _from_tfds(source[5:], data_dir)
    else:
        path = pathlib.Path(source)
        if path.is_file():
            splits, names = _from_file(path, validation_fraction, seed)
        elif path.is_dir():
            splits, names = _from_folder(path)
        else:
            raise ValueError(
                "load_text_data: `source` must be 'tfds:<name>', a .tsv/.csv "
                "file or a folder (GLUE-style train.tsv/dev.tsv, or class "
                f"subfolders of .txt files). Received: {source!r}, which "
                "does not exist"
            )
    if splits.get("validation") is None:
        texts, labels = splits["train"]
        train, held = stratified_split(labels, validation_fraction, seed)
        splits["train"] = (texts[train], labels[train])
        splits["validation"] = (texts[held], labels[held])
    if max_samples is not None and max_samples < len(splits["train"][1]):
        keep = np.random.default_rng(seed).permutation(len(splits["train"][1]))
        keep = np.sort(keep[:max_samples])
        splits["train"] = tuple(a[keep] for a in splits["train"])
    return TextData(
        splits["train"], splits["validation"], splits.get("test"), names
    )


def _is_integer(label):
    return label.lstrip("-").isdigit()


def _label_arrays(rows, path):
    """(label, text, line) rows -> texts, int labels, class names.

    Integer labels must number the classes 0..K-1 and may not mix with
    other labels: a stray `7` or `nan` would otherwise become a class of
    its own, silently.
    """
    texts = np.asarray([text for _, text, _ in rows], dtype=object).astype(str)
    raw = [label.strip() for label, _, _ in rows]
    integer = [_is_integer(label) for label in raw]
    if any(integer) and not all(integer):
        wrong = (
            integer.index(False)
            if sum(integer) > len(raw) / 2
            else (integer.index(True))
        )
        raise ValueError(
            f"load_text_data: {path} line {rows[wrong][2]}: the label column "
            f"mixes integers and other values. Received: label "
            f"{raw[wrong]!r} ({sum(integer)} integer labels, "
            f"{len(raw) - sum(integer)} others)"
        )
    if not all(integer):
        names = sorted(set(raw))
        index = {name: i for i, name in enumerate(names)}
        return texts, np.asarray([index[r] for r in raw], "int32"), names
    labels = np.asarray([int(label) for label in raw], "int32")
    return texts, labels, None


def _check_numbering(labels, rows_by_file):
    """Integer labels must be 0..K-1 for K distinct labels."""
    present = np.unique(labels)
    count = len(present)
    if present[0] == 0 and present[-1] == count - 1:
        return
    outside = next(int(v) for v in present if not 0 <= v < count)
    missing = sorted(set(range(count)) - {int(v) for v in present})
    for path, rows in rows_by_file:
        for label, _, line in rows:
            if int(label.strip()) == outside:
                raise ValueError(
                    f"load_text_data: {path} line {line}: integer labels must "
                    f"number the classes 0..K-1 (relabel them, or use class "
                    f"names). Received: label {outside}, outside 0..{count - 1}"
                    f" for {count} distinct labels; no row has {missing}"
                )


def _read_rows(path):
    """The `(label, text, line)` rows of a .tsv/.csv file, header
    dropped."""
    delimiter = "\t" if path.suffix == ".tsv" else ","
    with open(path, newline="", encoding="utf-8") as file:
        reader = csv.reader(file, delimiter=delimiter)
        rows = [(row, reader.line_num) for row in reader if row]
    if not rows:
        raise ValueError(f"load_text_data: {path} is empty")
    bad = [(row, line) for row, line in rows if len(row) < 2]
    if bad:
        row, line = bad[0]
        raise ValueError(
            f"load_text_data: {path} line {line}: every row must be `label"
            f"{delimiter!r}text`. Received: a row with {len(row)} column(s)"
        )
    rows = [(row[0], delimiter.join(row[1:]), line) for row, line in rows]
    first = rows[0][0].strip()
    others_numeric = all(_is_integer(label.strip()) for label, _, _ in rows[1:])
    # A header row: a label column named like one, or the only
    # non-integer label among integer ones.
    if first.lower() in HEADER_NAMES or (
        not _is_integer(first) and others_numeric
    ):
        rows = rows[1:]
    if not rows:
        raise ValueError(
            f"load_text_data: {path} has a header row and no examples. "
            f"Received: one line, {first!r}"
        )
    return rows


def _names_for(labels, names):
    return names or [str(i) for i in range(int(labels.max()) + 1)]


def _from_file(path, fraction, seed):
    rows = _read_rows(path)
    texts, labels, names = _label_arrays(rows, path)
    if names is None:
        _check_numbering(labels, [(path, rows)])
    rest, test = stratified_split(labels, fraction, seed)
    splits = {
        "train": (texts[rest], labels[rest]),
        "validation": None,
        "test": (texts[test], labels[test]),
    }
    return splits, _names_for(labels, names)


def _from_folder(path):
    files = {}
    for split, stems in SPLIT_FILES.items():
        for stem in stems:
            for suffix in (".tsv", ".csv"):
                if (path / f"{stem}{suffix}").is_file():
                    files.setdefault(split, path / f"{stem}{suffix}")
    if "train" in files:
        raw = {split: _read_rows(file) for split, file in files.items()}
        # One label numbering across the splits.
        for split, rows in raw.items():  # each file checked on its own
            _label_arrays(rows, files[split])
        everything = [row for rows in raw.values() for row in rows]
        _, _, names = _label_arrays(everything, path)
        index = {name: i for i, name in enumerate(names or [])}
        splits = {"validation": None}
        for split, rows in raw.items():
            texts, labels, _ = _label_arrays(rows, files[split])
            if names:
                labels = np.asarray(
                    [index[label.strip()] for label, _, _ in rows], "int32"
                )
            splits[split] = (texts, labels)
        all_labels = np.concatenate([s[1] for s in splits.values() if s])
        if not names:
            _check_numbering(
                all_labels,
                [(files[split], rows) for split, rows in raw.items()],
            )
        return splits, _names_for(all_labels, names)
    return _from_text_directories(path)


def _from_text_directories(path):
    root = path / "train" if (path / "train").is_dir() else path
    splits = {"validation": None}
    names = None
    for split, folder in (("train", root), ("test", path / "test")):
        if split == "test" and (root == path or not folder.is_dir()):
            continue
        classes = [d for d in folder.iterdir() if d.is_dir()]
        if not any(next(d.glob("*.txt"), None) for d in classes):
            raise ValueError(
                f"load_text_data: folder {folder} holds no examples: expected "
                "train.tsv/dev.tsv files, or one subfolder of .txt files per "
                f"class. Received: {len(classes)} subfolder(s), no .txt file "
                "in them"
            )
        dataset = keras.utils.text_dataset_from_directory(
            folder, batch_size=None, shuffle=False, verbose=False
        )
        names = names or list(dataset.class_names)
        texts, labels = [], []
        for text, label in dataset.as_numpy_iterator():
            texts.append(text.decode("utf-8"))
            labels.append(label)
        splits[split] = (np.asarray(texts), np.asarray(labels, "int32"))
    return splits, names


def _from_tfds(name, data_dir):
    tfds, builder = prepared_builder(
        name,
        data_dir,
        "load_text_data",
        "a .tsv/.csv file or a folder (train.tsv/dev.tsv, or class "
        "subfolders of .txt files)",
    )
    splits = {"validation": None}
    # Without prepared metadata (tfds.testing.mock_data) no split is
    # listed; the train split is then read as it comes.
    known = set(builder.info.splits) or {"train"}
    for split in ("train", "validation", "test"):
        if split in known:
            dataset = builder.as_dataset(split=split, as_supervised=True)
            texts, labels = [], []
            for text, label in tfds.as_numpy(dataset):
                texts.append(text.decode("utf-8"))
                labels.append(label)
            splits[split] = (np.asarray(texts), np.asarray(labels, "int32"))
    if "train" not in splits:
        raise ValueError(
            f"load_text_data: tfds data set {name!r} has no train split"
        )
    label = builder.info.supervised_keys[1]
    names = list(builder.info.features[label].names)
    return splits, names


def text_dataset(
    texts,
    labels,
    vectorizer,
    batch_size,
    shuffle=False,
    seed=0,
    drop_remainder=False,
):
    """A `tf.data` pipeline of `(token ids, labels)` batches: strings are
    batched, then vectorized by `vectorizer` (a `TextVectorization` layer)
    inside the pipeline, on the CPU, while the model trains.

    `drop_remainder=True` drops a last partial batch, which gives every
    batch a static size: `keras.distribution` needs that to split the
    batches over the processes of a multi-process JAX run.

    Example:

        >>> import keras, numpy as np
        >>> from kerasbig.data import text_dataset
        >>> vectorizer = keras.layers.TextVectorization(
        ...     output_sequence_length=4)
        >>> texts = np.array(["a good film", "a bad film"])
        >>> vectorizer.adapt(texts)
        >>> x, y = next(iter(text_dataset(texts, np.array([1, 0]),
        ...                               vectorizer, batch_size=2)))
        >>> tuple(x.shape), tuple(y.shape)
        ((2, 4), (2,))
    """
    tf = import_optional("tensorflow", "Building a text tf.data pipeline")
    dataset = tf.data.Dataset.from_tensor_slices((texts, labels))
    if shuffle:
        dataset = dataset.shuffle(len(texts), seed=seed)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)

    def vectorize(texts, labels):
        ids = vectorizer(texts)
        if drop_remainder:  # the vectorizer loses the static batch size
            ids = tf.ensure_shape(ids, [batch_size, *ids.shape[1:]])
        return ids, labels

    dataset = dataset.map(vectorize, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)

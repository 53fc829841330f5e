"""Preparing a tfds builder, with an error that says what to do offline."""

from kerasbig._optional import import_optional


def prepared_builder(name, data_dir, caller, instead):
    """`(tfds, builder)` for `name`, downloaded and prepared.

    Args:
        name: tfds data set name.
        data_dir: tfds data folder (None: TFDS_DATA_DIR).
        caller: function named in the error message.
        instead: what else the caller accepts, ending the message.
    """
    tfds = import_optional("tensorflow_datasets", f"{caller} from tfds")
    try:
        builder = tfds.builder(name, data_dir=data_dir)
        builder.download_and_prepare()
    except Exception as error:  # tfds raises many types when offline
        raise RuntimeError(
            f"{caller}: could not load the tfds data set {name!r} "
            f"(tried tfds.builder({name!r}, data_dir={data_dir!r})"
            f".download_and_prepare()): {type(error).__name__}: {error}. "
            "Without network access, prepare it elsewhere and copy it into "
            f"`data_dir` (or TFDS_DATA_DIR), or pass {instead}."
        ) from error
    return tfds, builder

"""Preparing a tfds builder, with an error that says what to do offline."""

import contextlib
import importlib

from kerasbig._optional import import_optional

# tfds retries each file 10 times with exponential backoff (0.2 s doubling):
# offline, about 3.5 minutes pass before the error. Two retries still ride
# out a flaky connection; running the command again resumes the download.
DOWNLOAD_RETRIES = 2


@contextlib.contextmanager
def few_download_retries():
    """Lowers tfds's per-file retry count (a module constant of
    `tensorflow_datasets.core.download.downloader`, no public option)
    for the duration; tests fail loudly if tfds renames it."""
    downloader = importlib.import_module(
        "tensorflow_datasets.core.download.downloader"
    )
    previous = downloader.MAX_RETRIES
    downloader.MAX_RETRIES = min(previous, DOWNLOAD_RETRIES)
    try:
        yield
    finally:
        downloader.MAX_RETRIES = previous


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
        with few_download_retries():
            builder.download_and_prepare()
    except ImportError as error:
        # Not the network: tfds's download path imports modules (etils'
        # epath needs importlib_resources) that nothing else installs.
        raise ImportError(
            f"{caller}: tfds could not download {name!r} because a module "
            f"is missing ({error}). Install the extra: pip install "
            "'kerasbig[datasets]'."
        ) from error
    except Exception as error:  # tfds raises many types when offline
        raise RuntimeError(
            f"{caller}: could not load the tfds data set {name!r} "
            f"(tried tfds.builder({name!r}, data_dir={data_dir!r})"
            f".download_and_prepare()): {type(error).__name__}: {error}. "
            "Without network access, prepare it elsewhere and copy it into "
            f"`data_dir` (or TFDS_DATA_DIR), or pass {instead}."
        ) from error
    return tfds, builder

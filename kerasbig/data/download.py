"""Downloads into Keras's cache folder, verified by SHA-256."""

import hashlib
import os
import pathlib
import shutil
import sys
import urllib.request
import warnings

DATA_DIR_ENV = "KERASBIG_DATA_DIR"
"""Environment variable: a folder that replaces `<KERAS_HOME>/datasets/
kerasbig` as the root of kerasbig's downloads."""


def data_folder(subdir, data_dir=None):
    """Where the files of a data set live.

    `data_dir` if given; else `$KERASBIG_DATA_DIR/<subdir>`; else
    `<KERAS_HOME>/datasets/kerasbig/<subdir>` (`KERAS_HOME` defaults to
    `~/.keras`, as for `keras.datasets`).

    Example:

        >>> from kerasbig.data import data_folder
        >>> data_folder("planetoid", data_dir="/tmp/cora").as_posix()
        '/tmp/cora'
    """
    if data_dir is not None:
        return pathlib.Path(data_dir).expanduser()
    root = os.environ.get(DATA_DIR_ENV)
    if root:
        return pathlib.Path(root).expanduser() / subdir
    home = os.environ.get("KERAS_HOME") or os.path.join("~", ".keras")
    return pathlib.Path(home).expanduser() / "datasets" / "kerasbig" / subdir


def fetch_files(
    names, base_url, subdir, sha256=None, data_dir=None, owner="fetch_files"
):
    """Makes sure each file of `names` is in the data folder, downloading
    `<base_url>/<name>` where it is missing or damaged.

    A file with a known SHA-256 (`sha256[name]`) is checked whenever it is
    used: a corrupt or partial file is fetched again, and a download that
    still does not match is removed and raises. A file without a known sum
    is downloaded unverified, with a warning that says so. Offline, the
    error names the URL, the file and where to put it.

    Args:
        names: file names.
        base_url: URL of the folder that holds them (`http(s)://` or
            `file://`).
        subdir: the data set's folder under the cache root (see
            `data_folder`).
        sha256: optional dict from file name to its SHA-256 hex digest.
        data_dir: optional folder to use instead of the cache folder.
        owner: the function named in errors.

    Returns:
        The folder (a `pathlib.Path`) holding the files.

    Example:

        >>> import pathlib, tempfile
        >>> from kerasbig.data import fetch_files
        >>> source = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (source / "a.txt").write_text("hello")
        >>> folder = fetch_files(["a.txt"], source.as_uri(), "demo",
        ...     sha256={"a.txt": "2cf24dba5fb0a30e26e83b2ac5b9e29e"
        ...             "1b161e5c1fa7425e73043362938b9824"},
        ...     data_dir=tempfile.mkdtemp())
        >>> (folder / "a.txt").read_text()
        'hello'
    """
    sha256 = dict(sha256 or {})
    folder = data_folder(subdir, data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        target = folder / name
        expected = sha256.get(name)
        if target.is_file() and (
            expected is None or _sha256(target) == expected
        ):
            continue
        url = f"{base_url.rstrip('/')}/{name}"
        if target.is_file():
            target.unlink()  # damaged: fetch it again
        try:
            _download(url, target)
        except Exception as error:  # urllib raises many types offline
            raise RuntimeError(
                f"{owner}: could not download {name} from {url} ({error}). "
                f"Without network access, download it elsewhere and put it "
                f"at {target}, or pass `data_dir=` (or set ${DATA_DIR_ENV}) "
                "for a folder that holds it."
            ) from error
        if expected is None:
            warnings.warn(
                f"{owner}: {name} was downloaded from {url} without "
                "verification: no SHA-256 of the original file is known.",
                stacklevel=2,
            )
            continue
        actual = _sha256(target)
        if actual != expected:
            target.unlink()
            raise ValueError(
                f"{owner}: {name} downloaded from {url} has SHA-256 {actual}, "
                f"not the original's {expected}; it was removed. Run again, "
                "or put the right file there yourself."
            )
    return folder


def _download(url, target):
    # Into a side file renamed when complete: an interrupted download
    # never leaves a partial file under the real name.
    print(f"Downloading {url}", file=sys.stderr)
    partial = target.with_name(target.name + ".part")
    try:
        with (
            urllib.request.urlopen(url, timeout=60) as response,
            open(partial, "wb") as file,
        ):
            shutil.copyfileobj(response, file)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

"""A run's optional dependencies, checked at the door
(`check_dependencies`) before anything trains. Standard library only:
recipes call it before Keras loads."""

from kerasbig._optional import install_hint
from kerasbig._optional import missing_dependencies


def check_dependencies(needs):
    """Raises an `ImportError` of one line at once, before any training,
    when an optional dependency a run will use is not installed: `needs`
    maps each module to what it is for. The message names every missing
    one and the pip command (kerasbig's extras) that brings them. Every
    recipe calls it right after `parse_config` with what its flags need.

    Example:

        >>> from kerasbig.training import check_dependencies
        >>> check_dependencies({"json": "reading the report"})
        >>> try:
        ...     check_dependencies({"not_installed_x": "the demo"})
        ... except ImportError as error:
        ...     print(str(error).split(": ")[-1])
        pip install not_installed_x
    """
    missing = missing_dependencies(needs)
    if missing:
        names = ", ".join(
            f"{module} ({purpose})" for module, purpose in missing.items()
        )
        raise ImportError(
            f"this run needs {names}, which "
            f"{'is' if len(missing) == 1 else 'are'} not installed: "
            f"{install_hint(missing)}"
        )

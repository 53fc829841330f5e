"""Knowledge graphs bundled with kerasbig: no download."""

import pathlib


def nations_folder():
    """The folder of the Nations knowledge graph shipped inside kerasbig
    (Kok & Domingos 2007; 14 countries, 55 relations, 1,592 / 199 / 201
    train / valid / test triples, as PyKEEN ships them, MIT), for
    `kerasbig.graph.load_triples`.

    Example:

        >>> from kerasbig.data import nations_folder
        >>> sorted(p.name for p in nations_folder().glob("*.txt"))
        ['test.txt', 'train.txt', 'valid.txt']
    """
    return pathlib.Path(__file__).resolve().parent / "nations"

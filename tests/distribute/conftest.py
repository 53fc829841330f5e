"""Fixtures of the distributed tests: free loopback ports and a small
text data set."""

import random
import socket

import pytest


@pytest.fixture
def free_ports():
    """`free_ports(n)`: n loopback ports nothing listens on now."""

    def ports(n):
        sockets = [socket.socket() for _ in range(n)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        numbers = [s.getsockname()[1] for s in sockets]
        for s in sockets:
            s.close()
        return numbers

    return ports


@pytest.fixture
def text_data(tmp_path):
    """A label<TAB>text file the text recipe learns in a few epochs."""
    rng = random.Random(0)
    words = ["good", "bad", "great", "awful", "fine", "poor", "nice", "dull"]
    lines = ["label\tsentence"]
    for _ in range(600):
        label = rng.randint(0, 1)
        tokens = [rng.choice(words[label::2]) for _ in range(5)]
        tokens += [rng.choice(words) for _ in range(3)]
        lines.append(f"{label}\t{' '.join(tokens)}")
    path = tmp_path / "data.tsv"
    path.write_text("\n".join(lines) + "\n")
    return path

"""``python -m cxroi.cli``: the same command line as ``cxroi``."""

from cxroi.cli import app

if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess in the tests
    app(prog_name="cxroi")

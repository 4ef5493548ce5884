"""Writing files so that nobody ever sees half of one (or half of a set of them).

:func:`write_atomic` writes one file atomically. :func:`all_or_nothing` groups the files
one command writes (a calibrated scenario, its summary table and its report): if the
command fails midway -- a full disk, a bug -- every file it wrote is removed and every file
it replaced is put back, so the output folder holds the old set or the new set, never a mix.

:func:`project_path` finds the repository's bundled files (``data/demo``,
``data/scenarios/...``) whether a notebook or command runs from the repository root or
from ``notebooks/``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

_UMASK = os.umask(0)
os.umask(_UMASK)

#: The open :func:`all_or_nothing` journals (innermost last).
_JOURNALS: list[_Journal] = []


class _Journal:
    """Files written inside one :func:`all_or_nothing` block, and the ones they replaced."""

    def __init__(self) -> None:
        self.created: list[Path] = []
        self.backups: list[tuple[Path, Path]] = []  # (target, saved copy of the old file)

    def before_replace(self, target: Path) -> None:
        if any(t == target for t in self.created) or any(t == target for t, _ in self.backups):
            return  # already journalled: the first state is the one to restore
        if target.exists():
            fd, keep = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".bak")
            os.close(fd)
            os.replace(target, keep)  # same folder: a rename, no copy
            self.backups.append((target, Path(keep)))
        else:
            self.created.append(target)

    def rollback(self) -> None:
        for p in reversed(self.created):
            p.unlink(missing_ok=True)
        for target, keep in reversed(self.backups):
            with contextlib.suppress(OSError):
                os.replace(keep, target)

    def commit(self) -> None:
        for _, keep in self.backups:
            keep.unlink(missing_ok=True)


@contextlib.contextmanager
def all_or_nothing() -> Iterator[None]:
    """Make every :func:`write_atomic` inside the block one transaction.

    On an exception the files written in the block are removed and the files they replaced
    restored, then the exception propagates. Blocks nest (the outermost one decides).
    """
    j = _Journal()
    _JOURNALS.append(j)
    try:
        yield
    except BaseException:
        _JOURNALS.remove(j)
        j.rollback()
        raise
    else:
        _JOURNALS.remove(j)
        if _JOURNALS:  # hand over to the enclosing block
            outer = _JOURNALS[-1]
            outer.created += [p for p in j.created if p not in outer.created]
            outer.backups += j.backups
        else:
            j.commit()


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` atomically.

    The data go to a temporary file in the same folder, which is then renamed over
    ``path``: a reader (or a run killed midway) sees the old file or the new one, never a
    partial one, even after a power cut (the data are synced before the rename). The file
    gets the usual permissions (0666 less the umask), not the private 0600 of a temporary
    file, so reports can be shared. Inside :func:`all_or_nothing` the write is undone if
    the block fails.
    """
    p = Path(path)
    if p.is_dir():  # os.replace would say "Not a directory", which misleads
        raise IsADirectoryError(errno.EISDIR, "is a folder, not a file", str(p))
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())  # the data are on disk before the name points at them
        os.chmod(tmp, 0o666 & ~_UMASK)
        if _JOURNALS:
            _JOURNALS[-1].before_replace(p)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    log.debug("wrote %s", p)
    return p


def project_root(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The cxroi repository holding ``start`` (default: the working folder), if any.

    It is the nearest folder, ``start`` or above, with a ``pyproject.toml`` and a ``data/``
    folder next to a ``cxroi/`` package; ``None`` outside a checkout.
    """
    here = Path(start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "pyproject.toml").is_file() and (d / "cxroi").is_dir() and (d / "data").is_dir():
            return d
    pkg = Path(__file__).resolve().parents[1]  # an editable install: the package's checkout
    if (pkg / "pyproject.toml").is_file() and (pkg / "data").is_dir():
        return pkg
    return None


def project_path(path: str | os.PathLike[str] | None) -> Path | None:
    """Resolve a path the way a notebook user means it.

    Absolute paths, and relative paths whose first folder exists from the working folder,
    are kept as given. Otherwise a path written relative to
    the repository root (``data/demo``) is found from anywhere inside the checkout, e.g.
    from ``notebooks/``. ``None`` stays ``None``.

    Examples
    --------
    From ``notebooks/``, ``project_path("data/demo")`` is ``<repo>/data/demo``.
    """
    if path is None:
        return None
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists() or not p.parts or p.parts[0] == "..":
        return p
    root = project_root()
    if root is None or Path(p.parts[0]).exists():
        return p
    return root / p if (root / p.parts[0]).exists() else p


def project_paths(paths: str | os.PathLike[str] | list[str | os.PathLike[str]]
                  ) -> Path | list[Path | None] | None:
    """:func:`project_path` for one path or each of a list (a notebook's list parameter)."""
    if isinstance(paths, list | tuple):
        return [project_path(p) for p in paths]
    return project_path(paths)


#: What counts as cxroi's code for :func:`code_fingerprint`: sources, resources, templates.
CODE_SUFFIXES = frozenset({".py", ".yaml", ".j2", ".css", ".html"})


def code_fingerprint(root: str | os.PathLike[str] | None = None) -> str:
    """sha256 over every source and resource file of the installed cxroi package (or of
    ``root``): the key that makes a cache of results (the batch's runs, the app's answers)
    never serve numbers of older code. The whole package counts, so a module added or
    split into a package can never be left out."""
    if root is None:
        return _installed_fingerprint()
    base = Path(root)
    h = hashlib.sha256()
    for p in sorted(base.rglob("*")):
        if p.is_file() and p.suffix in CODE_SUFFIXES and "__pycache__" not in p.parts:
            h.update(p.relative_to(base).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


@lru_cache(maxsize=1)
def _installed_fingerprint() -> str:
    import cxroi

    return code_fingerprint(Path(cxroi.__file__).resolve().parent) + cxroi.__version__


@contextlib.contextmanager
def locked(path: Path, shared: bool = False, wait: bool = True) -> Iterator[bool]:
    """``fcntl.flock`` on ``path`` (created if missing); yields False when ``wait`` is
    False and somebody else holds it. Without ``fcntl`` (Windows) it does not lock."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Linux/macOS
        yield True
        return
    fh = open(path, "a+b")  # noqa: SIM115 - held for the block
    try:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        try:
            fcntl.flock(fh.fileno(), mode | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    finally:
        fh.close()


def machine_lock(name: str) -> contextlib.AbstractContextManager[bool]:
    """An exclusive lock shared by every process of this installation on this machine (a
    file in the temporary folder, named after ``name`` and the package's location)."""
    import zlib

    tag = zlib.crc32(str(Path(__file__).resolve().parent).encode())
    return locked(Path(tempfile.gettempdir()) / f"cxroi-{name}-{tag:08x}.lock")

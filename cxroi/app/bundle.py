"""The page's chart library, vendored: the Vega runtime alone, and the chart compiler.

The charts are written in Vega-Lite (:mod:`cxroi.charts`) and compiled to Vega by the
workers (:func:`vega_spec`, vl-convert, once per chart *shape*: later updates of the same
chart only send new data), so the page compiles nothing and needs neither Vega-Lite nor
Vega-Embed: it draws the compiled spec with ``new vega.View(vega.parse(spec), ...)``.

``static/vega.min.js`` is the npm package ``vega`` at :data:`VEGA` (the version
vl-convert's compiler targets, :func:`vl_convert.get_vega_version`), its file
``build/vega.min.js`` unchanged after a one-line header naming the version, the source
and the sha256 of the file as published; ``static/vega-LICENSE.txt`` is its licence
(BSD-3-Clause). It is committed with the package, so ``cxroi app`` needs no network and
no Node. To vendor it again (another version: change :data:`VEGA`,
:data:`VEGA_INTEGRITY` and :data:`VEGA_SHA256`)::

    python -m cxroi.app.bundle                      # downloads the npm tarball
    python -m cxroi.app.bundle --tarball vega-6.2.0.tgz

which checks the tarball against npm's published integrity (sha512) and the file
against :data:`VEGA_SHA256` before writing (:func:`vendor_vega`).

(Until December 2026 the page read a 895 kB bundle of Vega, Vega-Lite and Vega-Embed
from :func:`vl_convert.javascript_bundle`; Vega alone is 512 kB and its browser reads it
in about 60 % of the time, which counts when twenty pages open at once on two cores.)
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
#: The vendored Vega runtime and its licence.
VEGA_JS = STATIC / "vega.min.js"
VEGA_LICENSE = STATIC / "vega-LICENSE.txt"
#: Vega version vendored: the one vl-convert's compiler targets.
VEGA = "6.2.0"
#: Where it comes from: the npm registry's tarball of ``vega@VEGA``.
VEGA_TARBALL = f"https://registry.npmjs.org/vega/-/vega-{VEGA}.tgz"
#: npm's published integrity of that tarball (``dist.integrity``).
VEGA_INTEGRITY = ("sha512-BIwalIcEGysJdQDjeVUmMWB3e50jPDNAMfLJscjEvpunU9bSt7X1OYnQxkg3uBwuRRI4"
                  "nWfFZO9uIW910nLeGw==")
#: sha256 of ``package/build/vega.min.js`` in that tarball (the vendored file's body).
VEGA_SHA256 = "ea6a5936381d06f912466354e2b6a20eb66c4d41f1ca9dff1e0236dfee6ee392"
#: Vega-Lite major.minor the charts of :mod:`cxroi.charts` are written for.
VEGA_LITE = "5.21"


def vega_header(version: str = VEGA, sha256: str = VEGA_SHA256) -> str:
    """The first line of ``static/vega.min.js``: version, source and checksum."""
    return (f"/* cxroi app: Vega {version}, npm vega@{version} build/vega.min.js "
            f"(https://registry.npmjs.org/vega/-/vega-{version}.tgz), sha256 {sha256}, "
            "BSD-3-Clause (vega-LICENSE.txt); python -m cxroi.app.bundle */\n")


def vendored_vega(path: Path = VEGA_JS) -> tuple[str, str, bytes]:
    """The vendored file's header line, the version it names and the file as published
    (the bytes after the header)."""
    raw = path.read_bytes()
    head, _, body = raw.partition(b"\n")
    text = head.decode("utf-8")
    if not text.startswith("/* cxroi app: Vega "):
        raise ValueError(f"{path}: the first line does not name the Vega version. Fix: "
                         "run python -m cxroi.app.bundle")
    return text + "\n", text.split()[4].rstrip(","), body


def _integrity(data: bytes) -> str:
    import base64

    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def vendor_vega(tarball: Path | None = None, out: Path = VEGA_JS,
                license_out: Path = VEGA_LICENSE, integrity: str | None = VEGA_INTEGRITY,
                sha256: str = VEGA_SHA256) -> Path:
    """Write ``static/vega.min.js`` and its licence from npm's ``vega`` tarball.

    Parameters
    ----------
    tarball : Path, optional
        The ``vega-<VEGA>.tgz`` file; downloaded from :data:`VEGA_TARBALL` when not given.
    out, license_out : Path
        Where the script (with :func:`vega_header`) and the licence are written.
    integrity : str or None
        npm's ``dist.integrity`` the tarball must have (None: not checked).
    sha256 : str
        The sha256 ``package/build/vega.min.js`` must have.

    Raises
    ------
    ValueError
        When the tarball or the file in it is not the one expected (nothing is written).
    """
    if tarball is None:
        import urllib.request

        with urllib.request.urlopen(VEGA_TARBALL, timeout=60) as r:  # noqa: S310 (https)
            data = r.read()
    else:
        data = Path(tarball).read_bytes()
    if integrity is not None and _integrity(data) != integrity:
        raise ValueError(f"the tarball's integrity is {_integrity(data)[:30]}..., not npm's "
                         f"{integrity[:30]}... for vega@{VEGA}. Fix: download {VEGA_TARBALL}")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        js = tar.extractfile("package/build/vega.min.js")
        lic = tar.extractfile("package/LICENSE")
        if js is None or lic is None:  # pragma: no cover - members are files in npm's
            raise ValueError("the tarball lacks package/build/vega.min.js or package/LICENSE")
        body, licence = js.read(), lic.read()
    got = hashlib.sha256(body).hexdigest()
    if got != sha256:
        raise ValueError(f"package/build/vega.min.js has sha256 {got}, not {sha256}. Fix: "
                         "use the tarball of the version in cxroi.app.bundle.VEGA, or update "
                         "VEGA, VEGA_INTEGRITY and VEGA_SHA256 together")
    out.write_bytes(vega_header(VEGA, got).encode() + body)
    license_out.write_bytes(licence)
    return out


def vega_spec(vega_lite: dict) -> dict:
    """A Vega-Lite spec compiled to Vega with the Vega-Lite version of :data:`VEGA_LITE`.

    The ``$schema`` (Vega 5) is dropped: the vendored Vega 6 runtime draws these specs
    as they are, and would otherwise warn about the version in the browser's console.
    """
    import vl_convert as vlc

    spec = vlc.vegalite_to_vega(vega_lite, vl_version=VEGA_LITE)
    spec.pop("$schema", None)
    return spec


def svg(vega: dict, data: dict[str, list]) -> str:
    """A compiled chart drawn to SVG on the server (vl-convert), its datasets filled with
    ``data``: the first view of a page shows these while its browser reads Vega."""
    import json

    import vl_convert as vlc

    spec = json.loads(json.dumps(vega))
    for d in spec.get("data", []):
        if d.get("name") in data:
            d["values"] = data[d["name"]]
    return vlc.vega_to_svg(spec)


if __name__ == "__main__":  # pragma: no cover
    import argparse

    ap = argparse.ArgumentParser(prog="python -m cxroi.app.bundle",
                                 description=f"Vendor Vega {VEGA} into cxroi/app/static.")
    ap.add_argument("--tarball", type=Path, default=None,
                    help=f"vega-{VEGA}.tgz already downloaded (default: {VEGA_TARBALL})")
    print(vendor_vega(ap.parse_args().tarball))

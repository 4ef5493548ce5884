"""The app server's guards: which addresses it answers, the token, the page's policy.

* **DNS rebinding.** A web page elsewhere can point a name of its own at 127.0.0.1 and
  make the visitor's browser talk to the app. The server answers only requests whose
  ``Host`` is the address it was started on (:func:`allowed_hosts`) and, when the browser
  says where a request comes from (``Origin``), only its own pages.
* **Beyond loopback, a token.** Listening on another address (``--host 0.0.0.0``) lets
  colleagues in, and anyone else on the network: the server then requires a token
  (``--token``, or one generated and printed), given once in the address
  (``?token=...``) and kept in a cookie (HttpOnly, SameSite=Strict).
* **Nothing from the network.** The page's Content-Security-Policy (:data:`CSP`) allows
  scripts, styles and requests from the app itself only.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
from collections.abc import Mapping

#: The page's Content-Security-Policy ('unsafe-eval': Vega compiles its expressions).
CSP = ("default-src 'none'; script-src 'self' 'unsafe-eval'; style-src 'self' "
        "'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_hosts(host: str, port: int) -> frozenset[str]:
    """The ``Host`` headers the server answers: its own address (and ``localhost`` /
    ``127.0.0.1`` for loopback). A wildcard address (``0.0.0.0``) adds this machine's
    name and addresses."""
    names = {host}
    if is_loopback(host):
        names |= {"localhost", "127.0.0.1", "[::1]"}
    if host in {"0.0.0.0", "::", ""}:
        names = {"localhost", "127.0.0.1", socket.gethostname(), socket.getfqdn()}
        try:
            names |= {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None)}
        except OSError:
            pass
        names |= _outbound_addresses()
    out = set()
    for n in names:
        n = f"[{n}]" if ":" in n and not n.startswith("[") else n
        out |= {f"{n}:{port}".lower()} | ({n.lower()} if port == 80 else set())
    return frozenset(out)


def _outbound_addresses() -> set[str]:
    """This machine's addresses on its networks (the source address it would use to reach
    a private and a public address; no packet is sent)."""
    out = set()
    for probe in ("10.255.255.255", "192.0.2.1"):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.connect((probe, 1))
                out.add(s.getsockname()[0])
            except OSError:
                pass
    return out


def refusal(headers: Mapping[str, str], allowed: frozenset[str], token: str | None,
            query_token: str | None, cookie_token: str | None) -> str | None:
    """Why a request must be refused (a sentence for the page), or None when it may pass.

    Parameters
    ----------
    headers : mapping
        The request's headers (``Host``, ``Origin``, ``Authorization``).
    allowed : frozenset of str
        ``host:port`` values the server answers (:func:`allowed_hosts`).
    token : str, optional
        The token required (None on loopback without ``--token``).
    query_token, cookie_token : str, optional
        The token given in the address (``?token=``) or kept in the cookie.
    """
    host = (headers.get("Host") or "").lower()
    if host not in allowed:
        return "This address is not the one the app was started on."
    origin = headers.get("Origin")
    if origin is not None and origin.lower() not in {f"http://{h}" for h in allowed}:
        return "Requests from other sites are refused."
    if token is None:
        return None
    given = query_token or cookie_token or \
        (headers.get("Authorization") or "").removeprefix("token ")
    if not given or not secrets.compare_digest(given, token):
        return ("This app needs its token: open the address `cxroi app` printed (it ends "
                "in ?token=...).")
    return None

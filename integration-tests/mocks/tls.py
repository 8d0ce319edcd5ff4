"""Test certificates for mocks that serve HTTPS (:meth:`MockProvider.serve_tls`).

:func:`make_certificates` creates, with the ``openssl`` command, a throw-away CA and
a server certificate it signed for ``localhost`` and ``127.0.0.1``. The gateway is
told to trust the CA with ``switchyard render --ca-file CA``, exactly as an operator
with a private CA would, so TLS to the mock is verified as TLS to a provider is
(chain, subject alternative name, SNI).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MockCertificates", "make_certificates"]

#: The host name the server certificate names (besides the address 127.0.0.1).
TLS_HOST = "localhost"


@dataclass(frozen=True)
class MockCertificates:
    """PEM files: the CA that signed the server certificate, and the server's pair."""

    ca_file: str
    cert_file: str
    key_file: str


def _openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {proc.stderr}")


def make_certificates(directory: Path) -> MockCertificates:
    """A CA and a server certificate for ``localhost`` / ``127.0.0.1`` in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=Switchyard test CA", "-keyout", "ca.key", "-out", "ca.pem",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={TLS_HOST}",
             "-keyout", "server.key", "-out", "server.csr", cwd=directory)
    (directory / "server.ext").write_text(
        f"subjectAltName=DNS:{TLS_HOST},IP:127.0.0.1\n"
        "basicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", "server.ext",
             "-out", "server.pem", cwd=directory)
    return MockCertificates(
        ca_file=str(directory / "ca.pem"),
        cert_file=str(directory / "server.pem"),
        key_file=str(directory / "server.key"),
    )

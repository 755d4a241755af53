"""A TLS front for a local plain-HTTP server (the moto server), with a certificate made for the occasion.

Why: deployed, the callback reads its secret from Secrets Manager over HTTPS, so its cold first answer pays for
a certificate store loaded, a TLS handshake and encrypted bytes; a bench against the plain-HTTP moto server
would leave that out. The proxy terminates TLS on a loopback port and relays the bytes to the upstream. Its CA
bundle is the system's store plus the new certificate, so a client that loads it (``AWS_CA_BUNDLE``) pays what
loading the system store costs.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


@dataclass
class TlsProxyHandle:
    """The running proxy: its ``https://`` endpoint, the CA bundle that trusts it, and how to stop it."""

    endpoint: str
    ca_bundle: Path
    listener: socket.socket

    def stop(self) -> None:
        self.listener.close()


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost: (certificate, key) PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "proxy-cert.pem", directory / "proxy-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


def _ca_bundle(directory: Path, cert_file: Path) -> Path:
    paths = ssl.get_default_verify_paths()
    system = Path(paths.cafile or paths.openssl_cafile)
    bundle = directory / "ca-bundle.pem"
    bundle.write_bytes((system.read_bytes() if system.is_file() else b"") + cert_file.read_bytes())
    return bundle


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):  # either side hung up: the relay ends
        while data := source.recv(65536):
            sink.sendall(data)
    for end in (source, sink):
        with contextlib.suppress(OSError):
            end.shutdown(socket.SHUT_RDWR)


def _serve(listener: socket.socket, context: ssl.SSLContext, upstream: tuple[str, int]) -> None:
    while True:
        try:
            raw, _ = listener.accept()
        except OSError:
            return  # stopped
        threading.Thread(target=_relay, args=(raw, context, upstream), daemon=True).start()


def _relay(raw: socket.socket, context: ssl.SSLContext, upstream: tuple[str, int]) -> None:
    try:
        client = context.wrap_socket(raw, server_side=True)
        server = socket.create_connection(upstream)
    except OSError:
        raw.close()
        return
    threading.Thread(target=_pump, args=(server, client), daemon=True).start()
    _pump(client, server)


def start_tls_proxy(upstream: str, directory: Path) -> TlsProxyHandle:
    """Serve TLS on a free loopback port, relaying to ``upstream`` (``http://host:port``); files go to
    ``directory`` (the caller's temporary directory)."""
    parts = urlsplit(upstream)
    cert_file, key_file = _certificate(directory)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    listener = socket.create_server(("127.0.0.1", 0))
    target = (parts.hostname or "127.0.0.1", parts.port or 80)
    threading.Thread(target=_serve, args=(listener, context, target), name="tls-proxy", daemon=True).start()
    port = listener.getsockname()[1]
    return TlsProxyHandle(f"https://127.0.0.1:{port}", _ca_bundle(directory, cert_file), listener)

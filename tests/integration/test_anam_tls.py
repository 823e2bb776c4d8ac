"""The TLS connection to Anam: its certificate is verified against the CA bundle, which is loaded once per
execution environment and not again for every connection (docs/cold-start.md).

A local HTTPS server stands in for Anam, with a certificate for `localhost` from a test CA that the client is
told to trust through REQUESTS_CA_BUNDLE, as an operator behind an inspecting proxy would.
"""

from __future__ import annotations

import datetime
import http.server
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from token_vendor.adapters.anam import AnamClient


class _Anam(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A test CA, and a server certificate it signed for `localhost` (not for 127.0.0.1)."""
    directory = tmp_path_factory.mktemp("pki")
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    ca = _certificate("Test CA", ca_key, ca_name, ca_key, ca=True)
    server = _certificate("localhost", server_key, ca_name, ca_key, ca=False)
    files = {"ca": directory / "ca.pem", "cert": directory / "server.pem", "key": directory / "server.key"}
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files["cert"].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files["key"].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files


@pytest.fixture
def https_anam(pki: dict[str, Path]) -> Iterator[int]:
    """The port of an HTTPS server with the `localhost` certificate."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Anam)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki["cert"], pki["key"])
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_a_certificate_from_a_trusted_ca_for_the_host_is_accepted(
    https_anam: int, pki: dict[str, Path], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki["ca"]))
    anam = AnamClient(f"https://localhost:{https_anam}")

    anam.connect(timeout=2)
    answer = anam.session.post(anam.url, data=b"{}", timeout=2)

    assert answer.status_code == 200


def test_the_ca_bundle_is_read_once_not_for_each_new_connection(
    https_anam: int, pki: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(pki["ca"].read_bytes())
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    anam = AnamClient(f"https://localhost:{https_anam}")
    bundle.unlink()

    anam.connect(timeout=2)

    assert anam.session.post(anam.url, data=b"{}", timeout=2).status_code == 200


def test_a_certificate_for_another_host_is_refused(
    https_anam: int, pki: dict[str, Path], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki["ca"]))
    anam = AnamClient(f"https://127.0.0.1:{https_anam}")

    with pytest.raises(ssl.SSLCertVerificationError, match="IP address mismatch"):
        anam.connect(timeout=2)


def test_a_certificate_from_a_ca_outside_the_bundle_is_refused(
    https_anam: int, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    anam = AnamClient(f"https://localhost:{https_anam}")

    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer certificate"):
        anam.connect(timeout=2)

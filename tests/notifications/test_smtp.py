"""The SMTP sender against a real local relay (aiosmtpd on 127.0.0.1) with TLS: STARTTLS and
implicit TLS verify the relay's certificate and host name (a self-signed one is refused
unless RIGHTSDESK_SMTP_CA_FILE trusts its CA), STARTTLS is never skipped, and production
refuses plain SMTP unless the relay is declared local."""

from __future__ import annotations

import datetime as dt
import ipaddress
import smtplib
import ssl
from email import message_from_bytes
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.core.config import Settings
from app.notifications.senders import Message, SMTPSender
from tests.support import free_port, make_settings

MESSAGE = Message(
    id="msg_tls_1",
    to="hong.gildong@example.com",
    subject="접수 안내",
    text="요청이 접수되었습니다.",
    template="receipt",
    locale="ko",
    request_id=None,
)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject, key, issuer, issuer_key, *, ca: bool, names=()) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(names)), critical=False)
    if ca:
        usage = dict(key_cert_sign=True, crl_sign=True, digital_signature=False)
    else:
        usage = dict(key_cert_sign=False, crl_sign=False, digital_signature=True)
    builder = builder.add_extension(
        x509.KeyUsage(
            content_commitment=False,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            encipher_only=False,
            decipher_only=False,
            **usage,
        ),
        critical=True,
    )
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, cert, key=None) -> Path:
    data = cert.public_bytes(serialization.Encoding.PEM)
    if key is not None:
        data += key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Path]:
    """A private CA; a relay certificate it signed for 127.0.0.1 and localhost; one it signed
    for another host name."""
    d = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert(_name("Rights Desk test CA"), ca_key, _name("Rights Desk test CA"), ca_key, ca=True)
    out = {"ca": _write(d / "ca.pem", ca)}
    for label, names in {
        "relay": [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
        "elsewhere": [x509.DNSName("mail.example.net")],
    }.items():
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _cert(_name(label), key, ca.subject, ca_key, ca=False, names=names)
        out[label] = _write(d / f"{label}.pem", cert, key)
    return out


def _server_context(chain: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain)
    return context


class Relay:
    """Keeps what it receives, and whether the session was encrypted."""

    def __init__(self) -> None:
        self.received: list[tuple[bool, bytes]] = []

    async def handle_DATA(self, server, session, envelope):
        encrypted = server.transport.get_extra_info("ssl_object") is not None
        self.received.append((encrypted, envelope.content))
        return "250 OK"


@pytest.fixture
def relay(pki):
    """start(mode, certificate) → (Relay, port); mode: starttls, tls or plain."""
    controllers = []

    def start(mode: str, certificate: str = "relay") -> tuple[Relay, int]:
        handler, port = Relay(), free_port()
        kwargs: dict = {}
        if mode == "starttls":
            kwargs = dict(tls_context=_server_context(pki[certificate]), require_starttls=True)
        elif mode == "tls":
            kwargs = dict(ssl_context=_server_context(pki[certificate]))
        controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        controllers.append(controller)
        return handler, port

    yield start
    for controller in controllers:
        controller.stop()


def _settings(tmp_path, port: int, **overrides) -> Settings:
    values = dict(notify_backend="smtp", smtp_host="127.0.0.1", smtp_port=port)
    values["smtp_timeout_seconds"] = 5
    return make_settings("sqlite://", tmp_path, **{**values, **overrides})


@pytest.mark.parametrize("mode", ["starttls", "tls"])
def test_an_untrusted_certificate_is_refused(relay, tmp_path, mode):
    handler, port = relay(mode)
    settings = _settings(tmp_path, port, **{f"smtp_{mode}": True})
    with pytest.raises(ssl.SSLCertVerificationError):
        SMTPSender(settings).send(MESSAGE)
    assert handler.received == []


@pytest.mark.parametrize("mode", ["starttls", "tls"])
def test_the_relays_ca_file_makes_it_trusted(relay, pki, tmp_path, mode):
    handler, port = relay(mode)
    settings = _settings(tmp_path, port, smtp_ca_file=pki["ca"], **{f"smtp_{mode}": True})
    SMTPSender(settings).send(MESSAGE)
    [(encrypted, content)] = handler.received
    assert encrypted
    mail = message_from_bytes(content)
    assert mail["Message-ID"] == "<msg_tls_1@example.com>"  # the outbox id, on every attempt
    assert mail["To"] == "hong.gildong@example.com"


@pytest.mark.parametrize("mode", ["starttls", "tls"])
def test_a_certificate_for_another_host_is_refused(relay, pki, tmp_path, mode):
    """Signed by the trusted CA, but for mail.example.net: the host name is checked too."""
    handler, port = relay(mode, certificate="elsewhere")
    settings = _settings(tmp_path, port, smtp_ca_file=pki["ca"], **{f"smtp_{mode}": True})
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        SMTPSender(settings).send(MESSAGE)
    assert handler.received == []


def test_starttls_is_never_skipped(relay, pki, tmp_path):
    """A relay (or someone in between) that does not offer STARTTLS gets nothing."""
    handler, port = relay("plain")
    settings = _settings(tmp_path, port, smtp_starttls=True, smtp_ca_file=pki["ca"])
    with pytest.raises(smtplib.SMTPNotSupportedError):
        SMTPSender(settings).send(MESSAGE)
    assert handler.received == []


def test_the_port_follows_the_kind_of_tls(tmp_path):
    assert _settings(tmp_path, None).resolved_smtp_port == 25
    assert _settings(tmp_path, None, smtp_tls=True).resolved_smtp_port == 465
    assert _settings(tmp_path, 2525, smtp_tls=True).resolved_smtp_port == 2525


PRODUCTION = dict(
    env="production",
    secret_key="p" * 48,
    encryption_keys="k1:" + "A" * 43 + "=",
    blind_index_key="b" * 48,
)


def test_production_refuses_plain_smtp_unless_the_relay_is_local(tmp_path):
    with pytest.raises(ValueError, match="production refuses plain SMTP"):
        _settings(tmp_path, 25, **PRODUCTION)
    assert _settings(tmp_path, 25, smtp_local_relay=True, **PRODUCTION).smtp_local_relay
    assert _settings(tmp_path, 587, smtp_starttls=True, **PRODUCTION).smtp_starttls
    assert _settings(tmp_path, None, smtp_tls=True, **PRODUCTION).smtp_tls
    # The file sender needs no relay (production takes it only when told to: issue 21.2).
    allowed = make_settings("sqlite://", tmp_path, notify_allow_file=True, **PRODUCTION)
    assert allowed.notify_backend == "file"


def test_contradictory_or_unsafe_smtp_settings_are_refused(tmp_path):
    with pytest.raises(ValueError, match="not both"):
        _settings(tmp_path, 25, smtp_starttls=True, smtp_tls=True)
    # A message (4 replies of up to 10 s each) must fit in half a lease.
    with pytest.raises(ValueError, match="OUTBOX_LEASE_SECONDS"):
        _settings(tmp_path, 25, smtp_timeout_seconds=10, outbox_lease_seconds=60)
    assert _settings(tmp_path, 25, smtp_timeout_seconds=10, outbox_lease_seconds=80)

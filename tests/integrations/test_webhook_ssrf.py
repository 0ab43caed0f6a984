"""The SSRF guard, with RIGHTSDESK_WEBHOOK_ALLOW_PRIVATE off: refused addresses (IPv4 and IPv6,
mapped and embedded ones included), hosts that resolve to them ("localhost"), at registration
(422 on `url`) and at delivery, after resolution at connect time — so a host that answers a
public address at registration and a private one later (DNS rebinding) is caught. DNS is an
edge we do not own: where a test needs a public answer, it stands in for the resolver. The
TLS test shows the connection to the checked address keeps the host name for SNI, the
certificate check and the Host header."""

from __future__ import annotations

import datetime as dt
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.core.config import Settings
from app.integrations import delivery, ssrf
from app.integrations.ssrf import Policy, Refused, address_problem
from tests.integrations.receiver import deliveries, register
from tests.support import TEST_KEY, file_request

WEBHOOK_ALLOW_PRIVATE = False  # this module tests the guard itself

REFUSED = {
    "127.0.0.1": "loopback",
    "127.255.0.9": "loopback",
    "10.0.0.1": "private",
    "172.16.5.4": "private",
    "192.168.1.1": "private",
    "169.254.169.254": "link-local",  # cloud metadata
    "100.64.0.1": "shared (CGNAT)",
    "100.127.255.254": "shared (CGNAT)",
    "224.0.0.251": "multicast",
    "0.0.0.0": "unspecified",
    "240.0.0.1": "reserved",
    "255.255.255.255": "reserved",
    "192.0.2.10": "reserved",  # documentation
    "::1": "loopback",
    "::": "unspecified",
    "::ffff:127.0.0.1": "loopback",
    "::ffff:169.254.169.254": "link-local",
    "::ffff:10.1.2.3": "private",
    "fc00::1": "private",
    "fd12:3456::1": "private",
    "fe80::1": "link-local",
    "fe80::1%1": "link-local",
    "ff02::1": "multicast",
    "2002:7f00:1::": "loopback",  # 6to4 around 127.0.0.1
    "64:ff9b::a9fe:a9fe": "link-local",  # NAT64 around 169.254.169.254
    "2001:db8::1": "reserved",
}
PUBLIC = ["93.184.215.14", "8.8.8.8", "100.128.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize(("address", "problem"), REFUSED.items())
def test_refused_addresses(address, problem):
    assert address_problem(address) == problem


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses(address):
    assert address_problem(address) is None


def _fake_dns(monkeypatch, table: dict[str, list[str]]):
    """Stand in for DNS: names in `table` answer from it (a list is taken in turn, the last
    answer repeating); others go to the real resolver ("localhost")."""
    real = ssrf.resolve
    asked: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        if host in table:
            answers = table[host]
            return [answers.pop(0) if len(answers) > 1 else answers[0]]
        return real(host, port)

    monkeypatch.setattr(ssrf, "resolve", resolve)
    return asked


PRIVATE_URLS = [
    "http://127.0.0.1/hooks",
    "http://localhost:8080/hooks",  # a name that resolves to 127.0.0.1
    "https://[::1]/hooks",
    "http://[::ffff:127.0.0.1]/hooks",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.8/",
    "http://100.64.1.1/",
    "http://[fd00::1]/",
    "http://[fe80::1]/",
    "http://224.0.0.1/",
    "http://0.0.0.0:8000/",
    "http://2130706433/",  # 127.0.0.1 as one number
    "http://private.test/",  # resolves to a private address
    "http://mixed.test/",  # one public, one private address
]


def test_registration_refuses_private_destinations(client, staff, monkeypatch):
    _fake_dns(monkeypatch, {"private.test": ["10.9.8.7"]})
    monkeypatch.setattr(
        ssrf,
        "resolve",
        lambda host, port, _real=ssrf.resolve: (
            ["93.184.215.14", "192.168.0.10"] if host == "mixed.test" else _real(host, port)
        ),
    )
    for url in PRIVATE_URLS:
        response = client.post(
            "/v1/staff/webhooks",
            headers=staff["cpo"]["headers"],
            json={"url": url, "events": ["request.created"]},
        )
        assert response.status_code == 422, (url, response.text)
        problem = response.json()
        assert response.headers["content-type"] == "application/problem+json"
        assert problem["errors"][0]["field"] == "url"
        assert problem["errors"][0]["code"] == "address_refused", (url, problem)
    assert client.get("/v1/staff/webhooks", headers=staff["cpo"]["headers"]).json()["items"] == []


def test_registration_accepts_a_public_host_and_refuses_an_unknown_one(client, staff, monkeypatch):
    _fake_dns(monkeypatch, {"hooks.example.com": ["93.184.215.14"]})
    register(client, staff["cpo"]["headers"], url="https://hooks.example.com/rd")
    response = client.post(
        "/v1/staff/webhooks",
        headers=staff["cpo"]["headers"],
        json={"url": "https://no-such-host.invalid/rd", "events": ["task.created"]},
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "unresolvable"


def test_a_rebinding_host_is_caught_at_delivery(client, staff, receiver, monkeypatch):
    """Public at registration, 127.0.0.1 at delivery: nothing reaches the receiver on
    127.0.0.1, and the delivery is retried with the refusal as its reason."""
    asked = _fake_dns(monkeypatch, {"rebind.test": ["93.184.215.14", "127.0.0.1"]})
    cpo = staff["cpo"]["headers"]
    hook = register(client, cpo, url=f"http://rebind.test:{receiver.port}/hooks")
    file_request(client)
    (d,) = deliveries(client, cpo, hook["id"])
    assert asked == ["rebind.test", "rebind.test"]  # registration, then connect time
    assert (d["status"], d["attempts"]) == ("pending", 1)
    assert d["last_error"] == "refused: resolves to a loopback address"
    assert receiver.received == []


def test_the_guarded_client_refuses_at_connect_time(receiver, monkeypatch):
    """The transport alone: an address or a name that resolves to one is refused before any
    byte is sent; the same client allowed private addresses reaches the receiver (so the
    refusal is the guard's, not a dead port)."""
    _fake_dns(monkeypatch, {"mapped.test": ["::ffff:127.0.0.1"]})
    for url in (
        receiver.url,
        f"http://localhost:{receiver.port}/hooks",
        f"http://mapped.test:{receiver.port}/hooks",
    ):
        with ssrf.client(Policy(), timeout=2) as http, pytest.raises(Refused) as refused:
            http.post(url, content=b"{}")
        assert refused.value.code == "address_refused"
    assert receiver.received == []
    with ssrf.client(Policy(allow_private=True), timeout=2) as http:
        assert http.post(receiver.url, content=b"{}").status_code == 204
    assert len(receiver.received) == 1


def test_plain_http_is_refused_in_production(tmp_path):
    production = Settings(
        env="production",
        database_url="sqlite://",
        secret_key="p" * 40,
        encryption_keys=f"t1:{TEST_KEY}",
        blind_index_key="b" * 40,
        notify_allow_file=True,
        var_dir=tmp_path,
    )
    policy = Policy.from_settings(production)
    with pytest.raises(Refused) as refused:
        policy.check_url("http://hooks.example.com/rd")
    assert refused.value.code == "https_required"
    assert policy.check_url("https://hooks.example.com/rd").host == "hooks.example.com"
    on_premises = production.model_copy(update={"webhook_allow_private": True})
    assert Policy.from_settings(on_premises).check_url("http://10.0.0.5/rd").host == "10.0.0.5"
    development = production.model_copy(update={"env": "development"})
    assert Policy.from_settings(development).check_url("http://hooks.example.com/rd")


def test_delivery_rechecks_the_url_when_the_rules_changed(client, staff, receiver, monkeypatch):
    """Registered while http was allowed; production now refuses it at delivery."""
    _fake_dns(monkeypatch, {"hooks.example.com": ["93.184.215.14"]})
    cpo = staff["cpo"]["headers"]
    hook = register(client, cpo, url="http://hooks.example.com/rd", events=["request.created"])
    ctx = client.app.state.ctx
    monkeypatch.setattr(
        ssrf.Policy,
        "from_settings",
        classmethod(lambda cls, settings: cls(allow_private=False, require_https=True)),
    )
    file_request(client)
    (d,) = deliveries(client, cpo, hook["id"])
    assert d["last_error"] == "refused: must be https in production"
    assert delivery.drain(ctx.db, ctx).claimed == 0


# TLS: the connection goes to the checked address, the name stays the URL's ------------------


def _certificate(name: str, tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls_keeps_the_host_name_for_sni_and_the_certificate_check(tmp_path, monkeypatch):
    cert, key = _certificate("hooks.test", tmp_path)
    seen: dict[str, str | None] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            seen["host"] = self.headers["host"]
            self.rfile.read(int(self.headers["content-length"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    tls.sni_callback = lambda sock, name, ctx: seen.__setitem__("sni", name)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    trust = ssl.create_default_context(cafile=str(cert))
    _fake_dns(monkeypatch, {"hooks.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
    try:
        on_prem = Policy(allow_private=True)  # 127.0.0.1 is this test's "public" address
        with ssrf.client(on_prem, timeout=5, verify=trust) as http:
            assert http.post(f"https://hooks.test:{port}/", content=b"{}").status_code == 204
        assert seen == {"sni": "hooks.test", "host": f"hooks.test:{port}"}
        # The same address under another name: the certificate does not match, refused.
        with ssrf.client(on_prem, timeout=5, verify=trust) as http:
            with pytest.raises(httpx.ConnectError):
                http.post(f"https://other.test:{port}/", content=b"{}")
        # And with the system's CAs (verify=True), a self-signed certificate is refused.
        with ssrf.client(on_prem, timeout=5) as http, pytest.raises(httpx.ConnectError):
            http.post(f"https://hooks.test:{port}/", content=b"{}")
    finally:
        server.shutdown()
        server.server_close()

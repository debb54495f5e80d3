"""Health over the real fleet: the sample app's server, started by `restart`, is checked
over HTTP through each host's SSH connection; `deploytui health` checks it any time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fleet import Fleet, FleetHost

from deploytui.cli import main
from deploytui.config import load_config_text
from deploytui.config.model import Config
from deploytui.engine.events import Recorder
from deploytui.engine.operations.deploy import DeployRequest, DeployResult, run_deploy

APP = "/srv/app"
PORT = 18000
HEALTH = {"url": f"http://{{address}}:{PORT}/health", "timeout": 5, "interval": 0.1}


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYTUI_DATA_DIR", str(tmp_path / "data"))


def serving(fleet: Fleet, count: int) -> list[FleetHost]:
    """The first `count` hosts, each told to run the sample app's server on its address."""
    chosen = fleet.hosts[:count]
    for host in chosen:
        host.set_marker("serve", f"{host.address} {PORT}\n")
    return chosen


def config_data(fleet: Fleet, count: int, **overrides) -> dict:
    data = fleet.config(count, **overrides)
    data["projects"]["app"]["roles"] = {"web": {"restart": ["sh restart.sh"],
                                                "health": dict(HEALTH)}}
    return data


def load(data: dict) -> Config:
    return load_config_text(json.dumps(data), "test.yml")


def deploy(config: Config, **kw) -> DeployResult:
    project = config.projects["app"]
    request = DeployRequest(project, project.environments["prod"], user="ann@laptop", **kw)
    return run_deploy(config, request, sink=kw.pop("sink", Recorder()))


def test_deploytui_health_checks_the_servers_restart_started(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chosen = serving(hosts, 2)
    data = config_data(hosts, 2)
    assert deploy(load(data)).outcome == "success"
    path = hosts.write_config(tmp_path / "deploytui.yml", data)

    assert main(["--config", str(path), "health", "app", "prod", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["healthy"] is True
    assert {host: [(c["role"], c["healthy"], c["saw"]) for c in checks]
            for host, checks in report["hosts"].items()} == {
        h.name: [("web", True, "HTTP 200: ok")] for h in chosen}
    assert report["hosts"]["host1"][0]["check"] == \
        f"GET http://{chosen[0].address}:{PORT}/health"

    chosen[1].ssh('kill "$(cat ~/app.pid)"')
    assert main(["--config", str(path), "health", "app", "prod"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["HOST", "ROLE", "HEALTH", "CHECK", "SAW"]
    assert lines[1].split()[:3] == ["host1", "web", "healthy"]
    assert lines[2].split()[:3] == ["host2", "web", "UNHEALTHY"]
    assert "connection refused" in lines[2]


def test_deploytui_health_without_checks_says_so_and_exits_2(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = hosts.write_config(tmp_path / "deploytui.yml", hosts.config(1))
    assert main(["--config", str(path), "health", "app", "prod"]) == 2
    assert "no health checks in app/prod" in capsys.readouterr().err


TLS_PORT, PLAIN_PORT = 18443, 18080
TLS_SERVER = r"""
import http.server, ssl, sys
address, port, pem = sys.argv[1], int(sys.argv[2]), sys.argv[3]
class Up(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"secure ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.HTTPServer((address, port), Up)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(pem)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"""


def self_signed_pem(name: str) -> str:
    """A key and a certificate for `name`, signed by itself (no CA vouches for it)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    return (key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption())
            + cert.public_bytes(serialization.Encoding.PEM)).decode()


def test_an_https_check_speaks_tls_from_the_host_and_does_not_verify_the_certificate(
        hosts: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    host = hosts.hosts[0]
    assert host.ssh("cat > ~/tls.pem", input=self_signed_pem("shop.example.com")).returncode == 0
    assert host.ssh("cat > ~/tls_server.py", input=TLS_SERVER).returncode == 0
    started = host.ssh(
        f"nohup python3 ~/tls_server.py {host.address} {TLS_PORT} ~/tls.pem >/dev/null 2>&1 &"
        f" nohup python3 -m http.server {PLAIN_PORT} --bind {host.address}"
        " >/dev/null 2>&1 & sleep 0.5")
    assert started.returncode == 0, started.stderr
    data = hosts.config(1)
    data["projects"]["app"]["roles"] = {
        "web": {"health": {"url": f"https://{{address}}:{TLS_PORT}/up", "timeout": 5,
                           "interval": 0.2}},
        "plain": {"health": {"url": f"https://{{address}}:{PLAIN_PORT}/", "timeout": 1,
                             "interval": 0.2}}}
    data["projects"]["app"]["environments"]["prod"]["hosts"]["host1"]["roles"] = [
        "web", "plain"]
    path = hosts.write_config(tmp_path / "deploytui.yml", data)
    try:
        assert main(["--config", str(path), "health", "app", "prod", "--json"]) == 1
    finally:
        host.ssh("pkill -f tls_server.py; pkill -f http.server")
    checks = {c["role"]: c for c in json.loads(capsys.readouterr().out)["hosts"]["host1"]}
    assert checks["web"]["healthy"] is True
    assert checks["web"]["check"] == f"GET https://{host.address}:{TLS_PORT}/up"
    assert checks["web"]["saw"] == "HTTP 200: secure ok"
    # a plain HTTP server where TLS was expected: said so, in one line
    assert checks["plain"]["healthy"] is False
    assert checks["plain"]["saw"].startswith("no TLS: "), checks["plain"]["saw"]

"""A role's health check on one host: HTTP made from the host's side through the deploy's
own SSH connection (a direct-tcpip channel), or a command on the host; retried every
interval until the timeout, keeping what the last attempt saw."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from fleet import Fleet

from deploytui.config import load_config
from deploytui.config.model import Config, HealthCheck, Host
from deploytui.engine.events import HealthChecked, Recorder
from deploytui.engine.hosts.local import LocalTransport
from deploytui.engine.hosts.ssh import SSHTransport
from deploytui.engine.operations.health import check_host

PORT = 18731


def _config(fleet: Fleet, tmp_path: Path) -> Config:
    return load_config(fleet.write_config(tmp_path / "deploytui.yml", fleet.config(1)))


def _connected(config: Config) -> tuple[SSHTransport, Host]:
    host = config.projects["app"].environments["prod"].hosts[0]
    transport = SSHTransport(host, config.ssh)
    transport.connect()
    return transport, host


class _Answer(BaseHTTPRequestHandler):
    status = 200
    body = b"ok\n"
    callers: list[str] = []  # the process that opened each connection, as ss(8) names it

    def do_GET(self) -> None:
        ip, port = self.client_address[:2]
        owner = subprocess.run(["ss", "-Htnp", "src", f"{ip}:{port}"], capture_output=True,
                               text=True).stdout
        self.callers.append(owner)
        self.send_response(self.status)
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


def _serve(address: str, status: int, body: bytes) -> HTTPServer:
    handler = type("Handler", (_Answer,), {"status": status, "body": body})
    server = HTTPServer((address, PORT), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _stop(server: HTTPServer) -> None:
    server.shutdown()
    server.server_close()


@pytest.fixture
def ssh_host(hosts: Fleet, tmp_path: Path):
    transport, host = _connected(_config(hosts, tmp_path))
    yield transport, host, hosts.hosts[0]
    transport.close()


def test_an_http_check_is_made_from_the_host_through_its_ssh_connection(ssh_host) -> None:
    transport, host, _ = ssh_host
    server = _serve(host.address, 200, b"ok\nmore\n")
    recorder = Recorder()
    try:
        result = check_host(transport, host, "web",
                            HealthCheck(url=f"http://{{address}}:{PORT}/up"), sink=recorder)
    finally:
        _stop(server)
    assert result.healthy
    assert result.check == f"GET http://{host.address}:{PORT}/up"
    assert result.saw == "HTTP 200: ok"
    assert result.attempts == 1
    [caller] = _Answer.callers[-1:]
    assert '"sshd' in caller  # the connection came from the host's sshd, not from us
    [event] = recorder.of(HealthChecked)
    assert (event.host, event.role, event.healthy, event.saw) == ("host1", "web", True,
                                                                  "HTTP 200: ok")


def test_a_status_outside_the_range_is_unhealthy_and_says_what_came_back(ssh_host) -> None:
    transport, host, _ = ssh_host
    server = _serve(host.address, 503, b"starting\n")
    try:
        result = check_host(transport, host, "web",
                            HealthCheck(url=f"http://{{address}}:{PORT}/", timeout=0.6,
                                        interval=0.2))
    finally:
        _stop(server)
    assert not result.healthy
    assert result.saw.startswith("HTTP 503: starting (expected 200-399) (not healthy within")
    assert result.attempts >= 2


def test_nothing_listening_is_connection_refused_retried_until_the_timeout(ssh_host) -> None:
    transport, host, _ = ssh_host
    started = time.monotonic()
    result = check_host(transport, host, "web",
                        HealthCheck(url=f"http://{{address}}:{PORT}/", timeout=1, interval=0.25))
    elapsed = time.monotonic() - started
    assert not result.healthy
    assert "connection refused" in result.saw.lower()
    assert result.attempts >= 3
    assert 0.7 < elapsed < 3


def test_a_check_that_hangs_is_bounded_by_its_timeout(ssh_host) -> None:
    transport, host, _ = ssh_host
    silent = socket.create_server((host.address, PORT))  # accepts, never answers
    try:
        started = time.monotonic()
        result = check_host(transport, host, "web",
                            HealthCheck(url=f"http://{{address}}:{PORT}/", timeout=1.5))
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert not result.healthy
    assert "no answer in time" in result.saw
    assert 1.4 < elapsed < 4


def test_the_server_becoming_healthy_later_passes_on_a_later_attempt(ssh_host) -> None:
    transport, host, _ = ssh_host
    servers: list[HTTPServer] = []
    timer = threading.Timer(0.5, lambda: servers.append(_serve(host.address, 200, b"up\n")))
    timer.start()
    try:
        result = check_host(transport, host, "web",
                            HealthCheck(url=f"http://{{address}}:{PORT}/", timeout=10,
                                        interval=0.2))
    finally:
        timer.join()
        for server in servers:
            _stop(server)
    assert result.healthy and result.attempts >= 2
    assert result.saw == "HTTP 200: up"


def test_a_command_check_runs_on_the_host_and_exit_0_is_healthy(ssh_host) -> None:
    transport, host, fleet_host = ssh_host
    check = HealthCheck(command="test -f /tmp/ready && echo ready on {name} || "
                                "{ echo not ready; exit 3; }", timeout=0.6, interval=0.2)
    unhealthy = check_host(transport, host, "worker", check)
    assert not unhealthy.healthy
    assert unhealthy.saw.startswith("exit 3: not ready (not healthy within 0.6s")
    fleet_host.path("/tmp/ready").write_text("")
    healthy = check_host(transport, host, "worker", check)
    assert (healthy.healthy, healthy.saw) == (True, "exit 0: ready on host1")
    assert healthy.check == "$ test -f /tmp/ready && echo ready on host1 || " \
                            "{ echo not ready; exit 3; }"


def test_a_local_host_is_checked_with_a_plain_socket() -> None:
    server = _serve("127.0.0.1", 204, b"")
    transport = LocalTransport("local1")
    transport.connect()
    host = Host(name="local1", address="127.0.0.1", transport="local")
    try:
        result = check_host(transport, host, "web",
                            HealthCheck(url=f"http://{{address}}:{PORT}/health"))
    finally:
        _stop(server)
    assert (result.healthy, result.saw) == (True, "HTTP 204")

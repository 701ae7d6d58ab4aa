"""A real Charter for the MLflow compatibility suite.

Starts the built `charter` binary (``$CHARTER_BIN``, else ``$CARGO_TARGET_DIR/debug/charter``,
else ``target/debug/charter``) on a free port of 127.0.0.1 with a throwaway data directory,
creates the first admin from a random password and an API token for it, and stops the
server at the end. Every test drives it with the stock ``mlflow`` client.
"""

import base64
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
# A client mistake must never be retried for minutes: fail fast if the server 5xx's.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")

ROOT = Path(__file__).resolve().parents[3]


def charter_binary() -> str:
    if os.environ.get("CHARTER_BIN"):
        return os.environ["CHARTER_BIN"]
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    if not target.is_absolute():
        target = ROOT / target
    return str(target / "debug" / "charter")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Charter:
    """A running server and the admin's credentials."""

    def __init__(self, url: str, password: str, data: Path):
        self.url = url
        self.admin_password = password
        self.data = data
        self.admin_token = self.make_token("admin", password)

    def api(self, method: str, path: str, body=None, user="admin", password=None, token=None):
        """Call Charter's own JSON API (`/api/v1`); returns (status, json)."""
        req = urllib.request.Request(self.url + "/api/v1" + path, method=method)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        else:
            creds = f"{user}:{password or self.admin_password}".encode()
            req.add_header("Authorization", "Basic " + base64.b64encode(creds).decode())
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, data=data) as r:
                text = r.read()
                return r.status, (json.loads(text) if text else None)
        except urllib.error.HTTPError as e:
            text = e.read()
            return e.code, (json.loads(text) if text else None)

    def make_token(self, user: str, password: str) -> str:
        status, body = self.api("POST", "/me/tokens", {"name": f"pytest-{secrets.token_hex(3)}"}, user, password)
        assert status == 201, body
        return body["secret"]

    def user(self, username: str, role: str = "practitioner", password: str | None = None):
        """Create a user (as the admin); returns (password, token)."""
        password = password or "pw-" + secrets.token_hex(12)
        status, body = self.api(
            "POST",
            "/users",
            {"username": username, "email": f"{username}@example.com", "role": role, "password": password},
        )
        assert status == 201, body
        return password, self.make_token(username, password)


@pytest.fixture(scope="session")
def charter():
    binary = charter_binary()
    if not os.path.exists(binary):
        pytest.fail(f"{binary} does not exist: build it with `cargo build -p charter-cli` (or set CHARTER_BIN)")
    work = Path(tempfile.mkdtemp(prefix="charter-mlflow-"))
    port = free_port()
    password = "pytest-" + secrets.token_hex(12)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHARTER_")}
    env.update(
        CHARTER_DATA_DIR=str(work / "data"),
        CHARTER_BIND=f"127.0.0.1:{port}",
        CHARTER_BOOTSTRAP_ADMIN_PASSWORD=password,
        CHARTER_LOG_LEVEL="warn",
        # Metric charts upload big artifacts; let the test's 5 MB file through.
        CHARTER_SERVER__BODY_LIMIT_BYTES=str(64 * 1024 * 1024),
    )
    log = open(work / "server.log", "w")
    proc = subprocess.Popen([binary, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if proc.poll() is not None:
                raise RuntimeError("charter exited: " + (work / "server.log").read_text())
            try:
                urllib.request.urlopen(url + "/ready", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("charter did not become ready")
        yield Charter(url, password, work / "data")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        if os.environ.get("CHARTER_KEEP_DATA"):
            print("server data kept in", work)
        else:
            shutil.rmtree(work, ignore_errors=True)


@pytest.fixture()
def client(charter, monkeypatch):
    """The stock client pointed at Charter with the admin's token (Bearer)."""
    import mlflow
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", charter.url)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", charter.admin_token)
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    mlflow.set_tracking_uri(charter.url)
    mlflow.set_registry_uri(charter.url)
    yield MlflowClient(tracking_uri=charter.url, registry_uri=charter.url)
    while mlflow.active_run():
        mlflow.end_run()


@pytest.fixture()
def unique():
    """A fresh name for each test's experiments and models."""
    return lambda prefix: f"{prefix}-{secrets.token_hex(4)}"

"""Charter's users and tokens through the stock client; projects decide access."""

import mlflow
import pytest
import requests
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient


def test_basic_auth_with_username_and_password(charter, monkeypatch, unique):
    username = unique("basic").replace("-", "_")
    password, _ = charter.user(username, "practitioner")
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", username)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
    mlflow.set_tracking_uri(charter.url)
    exp = mlflow.set_experiment(unique("basic"))
    with mlflow.start_run() as run:
        mlflow.log_metric("m", 1.0)
    got = MlflowClient(charter.url).get_run(run.info.run_id)
    assert got.data.metrics == {"m": 1.0}
    assert got.info.user_id == username
    # Experiments without a project land in the default project, which the user joined.
    status, project = charter.api("GET", "/projects/default")
    assert status == 200, project
    members = [m["username"] for m in project.get("members", [])]
    assert username in members, project
    assert exp.experiment_id


def test_bearer_token(charter, monkeypatch, unique):
    _, token = charter.user(unique("bearer").replace("-", "_"))
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    mlflow.set_tracking_uri(charter.url)
    mlflow.set_experiment(unique("bearer"))
    with mlflow.start_run():
        mlflow.log_param("p", "1")


def test_no_or_bad_credentials_are_401(charter):
    r = requests.get(f"{charter.url}/api/2.0/mlflow/experiments/get", params={"experiment_id": "0"})
    assert r.status_code == 401
    assert r.json()["error_code"] == "UNAUTHENTICATED"
    assert r.headers["WWW-Authenticate"].startswith("Basic")
    r = requests.get(
        f"{charter.url}/api/2.0/mlflow/experiments/get",
        params={"experiment_id": "0"},
        headers={"Authorization": "Bearer chr_" + "0" * 64},
    )
    assert r.status_code == 401 and r.json()["error_code"] == "UNAUTHENTICATED"


def test_projects_keep_experiments_apart(charter, unique):
    owner_pw, owner_token = charter.user(unique("owner").replace("-", "_"))
    _, outsider_token = charter.user(unique("outsider").replace("-", "_"))
    project = unique("secret")
    status, body = charter.api("POST", "/projects", {"name": project}, token=owner_token)
    assert status == 201, body
    owner = MlflowClient(charter.url)
    headers = {"Authorization": f"Bearer {owner_token}"}
    r = requests.post(
        f"{charter.url}/api/2.0/mlflow/experiments/create",
        json={"name": unique("hidden"), "tags": [{"key": "charter.project", "value": project}]},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    exp_id = r.json()["experiment_id"]
    out = {"Authorization": f"Bearer {outsider_token}"}
    r = requests.get(f"{charter.url}/api/2.0/mlflow/experiments/get", params={"experiment_id": exp_id}, headers=out)
    assert r.status_code == 403 and r.json()["error_code"] == "PERMISSION_DENIED"
    r = requests.post(f"{charter.url}/api/2.0/mlflow/runs/create", json={"experiment_id": exp_id}, headers=out)
    assert r.status_code == 403
    r = requests.post(f"{charter.url}/api/2.0/mlflow/experiments/search", json={}, headers=out)
    assert exp_id not in [e["experiment_id"] for e in r.json().get("experiments", [])]
    del owner, owner_pw


def test_unknown_endpoints_say_so(charter):
    r = requests.get(
        f"{charter.url}/api/2.0/mlflow/no-such-thing", headers={"Authorization": f"Bearer {charter.admin_token}"}
    )
    assert r.status_code == 404 and r.json()["error_code"] == "ENDPOINT_NOT_FOUND"


def test_client_errors_are_never_5xx(charter):
    headers = {"Authorization": f"Bearer {charter.admin_token}"}
    for path, body in [
        ("runs/create", {"experiment_id": "abc"}),
        ("runs/log-metric", {"run_id": "x", "key": "m"}),
        ("experiments/create", {}),
        ("runs/search", {"experiment_ids": ["0"], "filter": "metrics.a >"}),
        ("runs/search", {"experiment_ids": ["0"], "max_results": 10**9}),
    ]:
        r = requests.post(f"{charter.url}/api/2.0/mlflow/{path}", json=body, headers=headers)
        assert 400 <= r.status_code < 500, (path, r.status_code, r.text)
        assert r.json()["error_code"] in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST")
    r = requests.post(f"{charter.url}/api/2.0/mlflow/runs/log-metric", data=b"{nope", headers=headers)
    assert r.status_code == 400

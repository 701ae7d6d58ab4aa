"""The proxied artifact store with the stock client: upload, list, download, delete."""

import hashlib
import os

import mlflow
import pytest
import requests
from mlflow.exceptions import MlflowException


def test_artifacts_round_trip_nested_and_large(client, unique, tmp_path):
    mlflow.set_experiment(unique("art"))
    src = tmp_path / "src"
    (src / "plots" / "deep").mkdir(parents=True)
    (src / "plots" / "a.txt").write_text("hello")
    (src / "plots" / "deep" / "b.json").write_text('{"b": 1}')
    big = src / "big.bin"
    big.write_bytes(os.urandom(5 * 1024 * 1024))
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(src))
        mlflow.log_text("notes", "notes/readme.md")
        mlflow.log_dict({"k": [1, 2]}, "config.json")
    rid = run.info.run_id
    top = sorted((f.path, f.is_dir) for f in client.list_artifacts(rid))
    assert top == [("big.bin", False), ("config.json", False), ("notes", True), ("plots", True)]
    assert [f.path for f in client.list_artifacts(rid, "plots/deep")] == ["plots/deep/b.json"]
    size = [f.file_size for f in client.list_artifacts(rid) if f.path == "big.bin"][0]
    assert size == 5 * 1024 * 1024
    out = tmp_path / "out"
    local = mlflow.artifacts.download_artifacts(run_id=rid, dst_path=str(out))
    assert open(os.path.join(local, "plots", "deep", "b.json")).read() == '{"b": 1}'
    got = hashlib.sha256(open(os.path.join(local, "big.bin"), "rb").read()).hexdigest()
    assert got == hashlib.sha256(big.read_bytes()).hexdigest()
    assert mlflow.artifacts.load_text(f"runs:/{rid}/notes/readme.md") == "notes"
    assert mlflow.artifacts.load_dict(f"runs:/{rid}/config.json") == {"k": [1, 2]}
    # A missing directory lists as empty, not as an error.
    assert client.list_artifacts(rid, "nothing/here") == []


def test_paths_cannot_escape(charter, client, unique):
    exp = mlflow.set_experiment(unique("escape"))
    headers = {"Authorization": f"Bearer {charter.admin_token}"}
    base = f"{charter.url}/api/2.0/mlflow-artifacts/artifacts"
    for path in [f"{exp.experiment_id}/../../etc/passwd", f"{exp.experiment_id}/a/%2e%2e/%2e%2e/x"]:
        r = requests.put(f"{base}/{path}", data=b"x", headers=headers)
        assert r.status_code in (400, 404), (path, r.status_code, r.text)
        if r.status_code == 400:
            assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    r = requests.get(base, params={"path": f"{exp.experiment_id}/../.."}, headers=headers)
    assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    r = requests.get(f"{base}/{exp.experiment_id}/nope.txt", headers=headers)
    assert r.status_code == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_artifact_delete(charter, client, unique):
    mlflow.set_experiment(unique("artdel"))
    with mlflow.start_run() as run:
        mlflow.log_text("x", "d/x.txt")
    exp = run.info.experiment_id
    r = requests.delete(
        f"{charter.url}/api/2.0/mlflow-artifacts/artifacts/{exp}/{run.info.run_id}/artifacts/d",
        headers={"Authorization": f"Bearer {charter.admin_token}"},
    )
    assert r.status_code == 200
    assert client.list_artifacts(run.info.run_id) == []

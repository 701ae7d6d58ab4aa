"""Tracking with the stock client: experiments, runs, params, metrics, tags, search."""

import math

import mlflow
import pytest
import requests
from mlflow.entities import Metric, Param, RunTag, ViewType
from mlflow.exceptions import MlflowException


def test_set_experiment_creates_it_once_and_finds_it_again(client, unique):
    name = unique("exp")
    exp = mlflow.set_experiment(name)
    assert exp.name == name
    assert exp.artifact_location == f"mlflow-artifacts:/{exp.experiment_id}"
    again = mlflow.set_experiment(name)
    assert again.experiment_id == exp.experiment_id
    assert client.get_experiment_by_name(unique("missing")) is None


def test_the_default_experiment_exists(client):
    default = client.get_experiment("0")
    assert default.name == "Default"
    assert default.lifecycle_stage == "active"


def test_a_run_logs_params_metrics_and_tags(client, unique):
    mlflow.set_experiment(unique("runs"))
    with mlflow.start_run(run_name="first") as run:
        mlflow.log_param("alpha", "0.5")
        mlflow.log_params({"l1": 1, "solver": "saga"})
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"acc": 0.9, "f1": 0.8})
        mlflow.set_tag("team", "risk")
        mlflow.set_tags({"stage": "dev"})
    got = client.get_run(run.info.run_id)
    assert got.info.status == "FINISHED"
    assert got.info.run_name == "first"
    assert got.info.end_time is not None
    assert got.data.params == {"alpha": "0.5", "l1": "1", "solver": "saga"}
    assert got.data.metrics["loss"] == pytest.approx(0.2)
    assert got.data.metrics["acc"] == pytest.approx(0.9)
    assert got.data.tags["team"] == "risk"
    assert got.data.tags["mlflow.runName"] == "first"
    history = client.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == [0, 1, 2, 3, 4]
    assert [m.value for m in history] == pytest.approx([1, 0.5, 1 / 3, 0.25, 0.2])


def test_nan_and_infinities_survive(client, unique):
    mlflow.set_experiment(unique("nan"))
    with mlflow.start_run() as run:
        mlflow.log_metric("nan", float("nan"))
        mlflow.log_metric("pinf", float("inf"))
        mlflow.log_metric("ninf", float("-inf"))
        client.log_batch(run.info.run_id, metrics=[Metric("bnan", float("nan"), 0, 0)])
    m = client.get_run(run.info.run_id).data.metrics
    assert math.isnan(m["nan"]) and math.isnan(m["bnan"])
    assert m["pinf"] > 1e300 and m["ninf"] < -1e300
    assert math.isnan(client.get_metric_history(run.info.run_id, "nan")[0].value)


def test_params_cannot_change_but_may_be_repeated(client, unique):
    mlflow.set_experiment(unique("params"))
    with mlflow.start_run():
        mlflow.log_param("lr", "0.1")
        mlflow.log_param("lr", "0.1")
        with pytest.raises(MlflowException) as err:
            mlflow.log_param("lr", "0.2")
        assert err.value.error_code == "INVALID_PARAMETER_VALUE"
        assert "Changing param values is not allowed" in err.value.message


def test_log_batch_and_its_limits(client, charter, unique):
    exp = mlflow.set_experiment(unique("batch"))
    run = client.create_run(exp.experiment_id)
    rid = run.info.run_id
    metrics = [Metric("m", float(i), 1000 + i, i) for i in range(1000)]
    client.log_batch(rid, metrics=metrics, params=[Param("p", "v")], tags=[RunTag("t", "x")])
    assert len(client.get_metric_history(rid, "m")) == 1000
    assert client.get_run(rid).data.metrics["m"] == 999.0
    # The client splits big batches itself; the server's limit shows on the wire.
    r = requests.post(
        f"{charter.url}/api/2.0/mlflow/runs/log-batch",
        json={"run_id": rid, "params": [{"key": f"k{i}", "value": "v"} for i in range(101)]},
        headers={"Authorization": f"Bearer {charter.admin_token}"},
    )
    assert r.status_code == 400
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "at most 100 params" in r.json()["message"]


def test_search_runs_filters_orders_and_pages(client, unique):
    exp = mlflow.set_experiment(unique("search"))
    ids = []
    for i in range(7):
        with mlflow.start_run(run_name=f"r{i}") as run:
            mlflow.log_metric("loss", float(i))
            mlflow.log_param("kind", "even" if i % 2 == 0 else "odd")
            mlflow.set_tag("team", "Gov" if i < 3 else "ops")
            ids.append(run.info.run_id)
    eid = [exp.experiment_id]
    found = client.search_runs(eid, "metrics.loss < 3 and params.kind = 'even'")
    assert sorted(r.info.run_name for r in found) == ["r0", "r2"]
    # LIKE is case-sensitive, ILIKE is not.
    assert len(client.search_runs(eid, "tags.team LIKE 'gov%'")) == 0
    assert len(client.search_runs(eid, "tags.team ILIKE 'gov%'")) == 3
    assert len(client.search_runs(eid, "tags.missing IS NULL")) == 7
    ordered = client.search_runs(eid, order_by=["metrics.loss DESC"])
    assert [r.data.metrics["loss"] for r in ordered] == [6, 5, 4, 3, 2, 1, 0]
    by_id = client.search_runs(eid, f"attributes.run_id IN ('{ids[0]}', '{ids[1]}')")
    assert {r.info.run_id for r in by_id} == {ids[0], ids[1]}
    page1 = client.search_runs(eid, max_results=3, order_by=["metrics.loss ASC"])
    assert len(page1) == 3 and page1.token
    page2 = client.search_runs(eid, max_results=3, order_by=["metrics.loss ASC"], page_token=page1.token)
    page3 = client.search_runs(eid, max_results=3, order_by=["metrics.loss ASC"], page_token=page2.token)
    losses = [r.data.metrics["loss"] for r in [*page1, *page2, *page3]]
    assert losses == [0, 1, 2, 3, 4, 5, 6]
    assert not page3.token
    df = mlflow.search_runs([exp.experiment_id], filter_string="metrics.loss >= 5")
    assert len(df) == 2
    with pytest.raises(MlflowException) as err:
        client.search_runs(eid, "metrics.loss < 'x'")
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(MlflowException):
        client.search_runs(eid, "metrics.loss < 1 OR metrics.loss > 5")


def test_delete_and_restore(client, unique):
    exp = mlflow.set_experiment(unique("del"))
    with mlflow.start_run() as run:
        pass
    rid = run.info.run_id
    client.delete_run(rid)
    assert client.get_run(rid).info.lifecycle_stage == "deleted"
    assert len(client.search_runs([exp.experiment_id])) == 0
    assert len(client.search_runs([exp.experiment_id], run_view_type=ViewType.DELETED_ONLY)) == 1
    with pytest.raises(MlflowException) as err:
        client.log_metric(rid, "x", 1.0)
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    client.restore_run(rid)
    client.log_metric(rid, "x", 1.0)
    client.delete_experiment(exp.experiment_id)
    assert client.get_experiment(exp.experiment_id).lifecycle_stage == "deleted"
    names = [e.name for e in client.search_experiments()]
    assert exp.name not in names
    client.restore_experiment(exp.experiment_id)
    assert exp.name in [e.name for e in client.search_experiments()]


def test_experiments_rename_tag_and_search(client, unique):
    a = client.create_experiment(unique("alpha"), tags={"owner": "ann"})
    client.set_experiment_tag(a, "domain", "credit")
    new_name = unique("renamed")
    client.rename_experiment(a, new_name)
    exp = client.get_experiment(a)
    assert exp.name == new_name and exp.tags["domain"] == "credit"
    found = client.search_experiments(filter_string=f"name = '{new_name}'")
    assert [e.experiment_id for e in found] == [a]
    assert [e.experiment_id for e in client.search_experiments(filter_string="tags.domain = 'credit'")] == [a]
    with pytest.raises(MlflowException) as err:
        client.create_experiment(new_name)
    assert err.value.error_code == "RESOURCE_ALREADY_EXISTS"


def test_missing_things_are_404_not_5xx(client):
    for call in (lambda: client.get_run("0" * 32), lambda: client.get_experiment("999999")):
        with pytest.raises(MlflowException) as err:
            call()
        assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_run_names_and_tags_stay_in_sync(client, unique):
    mlflow.set_experiment(unique("names"))
    with mlflow.start_run() as run:
        generated = client.get_run(run.info.run_id).info.run_name
        assert generated and "-" in generated
        mlflow.set_tag("mlflow.runName", "renamed")
    assert client.get_run(run.info.run_id).info.run_name == "renamed"
    client.update_run(run.info.run_id, name="again")
    got = client.get_run(run.info.run_id)
    assert got.info.run_name == "again" and got.data.tags["mlflow.runName"] == "again"


def test_datasets_are_recorded_as_inputs(client, unique):
    import pandas as pd

    mlflow.set_experiment(unique("inputs"))
    df = pd.DataFrame({"x": [1, 2, 3], "y": [0, 1, 0]})
    dataset = mlflow.data.from_pandas(df, name="toy")
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training")
    inputs = client.get_run(run.info.run_id).inputs.dataset_inputs
    assert [i.dataset.name for i in inputs] == ["toy"]
    found = client.search_runs([run.info.experiment_id], "datasets.name = 'toy'")
    assert len(found) == 1

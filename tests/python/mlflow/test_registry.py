"""Logged models, the registry and the pyfunc round trip with the stock client."""

import mlflow
import mlflow.pyfunc
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException


class AddN(mlflow.pyfunc.PythonModel):
    def __init__(self, n):
        self.n = n

    def predict(self, context, model_input, params=None):
        return model_input.apply(lambda column: column + self.n)


def log_model(unique, n=5):
    mlflow.set_experiment(unique("reg"))
    with mlflow.start_run() as run:
        mlflow.log_param("n", n)
        mlflow.log_metric("auc", 0.91)
        info = mlflow.pyfunc.log_model(name="model", python_model=AddN(n))
    return run, info


def test_pyfunc_log_register_alias_load_predict(client, unique):
    run, info = log_model(unique)
    assert info.model_id.startswith("m-")
    logged = client.get_logged_model(info.model_id)
    assert logged.status == "READY" or str(logged.status).endswith("READY")
    assert logged.source_run_id == run.info.run_id
    name = unique("adder")
    mv = mlflow.register_model(f"runs:/{run.info.run_id}/model", name)
    assert mv.version == "1"
    assert mv.run_id == run.info.run_id
    client.set_registered_model_alias(name, "staging", mv.version)
    loaded = mlflow.pyfunc.load_model(f"models:/{name}@staging")
    out = loaded.predict(pd.DataFrame({"x": [1, 2, 3]}))
    assert list(out["x"]) == [6, 7, 8]
    by_version = mlflow.pyfunc.load_model(f"models:/{name}/1")
    assert list(by_version.predict(pd.DataFrame({"x": [0]}))["x"]) == [5]
    assert client.get_model_version_by_alias(name, "staging").version == "1"
    rm = client.get_registered_model(name)
    assert rm.aliases == {"staging": "1"}


def test_registry_management(client, unique):
    run, info = log_model(unique, n=1)
    name = unique("mgmt")
    client.create_registered_model(name, tags={"team": "risk"}, description="first")
    v1 = client.create_model_version(name, f"models:/{info.model_id}", run_id=run.info.run_id)
    v2 = client.create_model_version(name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    assert (v1.version, v2.version) == ("1", "2")
    with pytest.raises(MlflowException) as err:
        client.create_registered_model(name)
    assert err.value.error_code == "RESOURCE_ALREADY_EXISTS"
    client.set_model_version_tag(name, "1", "validated", "yes")
    client.update_model_version(name, "1", description="the first")
    got = client.get_model_version(name, "1")
    assert got.tags == {"validated": "yes"} and got.description == "the first"
    client.update_registered_model(name, description="updated")
    assert client.get_registered_model(name).description == "updated"
    found = client.search_registered_models(filter_string=f"name = '{name}'")
    assert [m.name for m in found] == [name]
    assert [m.name for m in client.search_registered_models(filter_string="tags.team = 'risk'") if m.name == name]
    versions = client.search_model_versions(f"name = '{name}'")
    assert sorted(v.version for v in versions) == ["1", "2"]
    client.transition_model_version_stage(name, "2", "Staging")
    latest = client.get_latest_versions(name, stages=["Staging"])
    assert [v.version for v in latest] == ["2"]
    client.set_registered_model_alias(name, "candidate", "2")
    with pytest.raises(MlflowException) as err:
        client.get_model_version_by_alias(name, "nope")
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    client.delete_registered_model_alias(name, "candidate")
    assert client.get_registered_model(name).aliases == {}
    new_name = unique("renamed")
    client.rename_registered_model(name, new_name)
    assert client.get_model_version(new_name, "2").name == new_name
    client.delete_model_version(new_name, "1")
    with pytest.raises(MlflowException) as err:
        client.get_model_version(new_name, "1")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    v3 = client.create_model_version(new_name, f"models:/{info.model_id}", run_id=run.info.run_id)
    assert v3.version == "3", "version numbers are never reused"
    client.delete_registered_model(new_name)
    with pytest.raises(MlflowException) as err:
        client.get_registered_model(new_name)
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_logged_models_search_and_tags(client, unique):
    run, info = log_model(unique, n=2)
    found = client.search_logged_models(
        experiment_ids=[run.info.experiment_id], filter_string="name = 'model'"
    )
    assert info.model_id in [m.model_id for m in found]
    client.set_logged_model_tags(info.model_id, {"reviewed": "no"})
    assert client.get_logged_model(info.model_id).tags["reviewed"] == "no"
    client.delete_logged_model_tag(info.model_id, "reviewed")
    assert "reviewed" not in client.get_logged_model(info.model_id).tags

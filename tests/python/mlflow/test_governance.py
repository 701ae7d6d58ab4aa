"""Governance links seen from the stock client: a version attached to a bundle is
checked against the policy's metric thresholds, and promoting it waits for approvals."""

import mlflow
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

POLICY = """stages:
  - name: Validation
    evidenceSet:
      - id: Local.validation
        name: Validation
        definition:
          - artifactType: metadata
            id: quality
            details:
              type: modelmetric
              metrics: [{name: auc, threshold: {operator: ">=", value: 0.8}}]
    approvals:
      - name: Validation sign off
        approvers: [GROUP]
gates:
  - name: Production
    rules: [{action: CreateEndpoint}]
    approvals: [Validation sign off]
"""


class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input


def test_promotion_waits_for_the_gate_and_metrics_are_checked(charter, client, unique):
    group = unique("validators")
    assert charter.api("POST", "/groups", {"name": group})[0] == 201
    policy = unique("quality")
    status, created = charter.api(
        "POST", "/policies", {"name": policy, "description": "", "yaml": POLICY.replace("GROUP", group)}
    )
    assert status == 201, created
    pid = created["policy"]["id"]
    assert charter.api("POST", f"/policies/{pid}/versions/1/publish")[0] == 200
    project = unique("credit")
    assert charter.api("POST", "/projects", {"name": project})[0] == 201
    status, bundle = charter.api("POST", "/bundles", {"project": project, "name": "Scorer", "policies": [policy]})
    assert status == 201, bundle

    exp = MlflowClient().create_experiment(unique("scoring"), tags={"charter.project": project})
    mlflow.set_experiment(experiment_id=exp)
    with mlflow.start_run() as run:
        mlflow.log_metric("auc", 0.72)
        mlflow.pyfunc.log_model(name="model", python_model=Echo())
    name = unique("scorer")
    client.create_registered_model(name, tags={"charter.project": project})
    mv = mlflow.register_model(f"runs:/{run.info.run_id}/model", name)

    status, att = charter.api(
        "POST",
        f"/bundles/{bundle['id']}/attachments",
        {"kind": "model_version", "name": f"{name} v1", "reference": {"model": name, "version": int(mv.version)}},
    )
    assert status == 201, att
    status, checks = charter.api("GET", f"/bundles/{bundle['id']}/metric-checks")
    assert status == 200
    [auc] = [c for c in checks if c["metric"] == "auc"]
    assert auc["outcome"] == "fail" and auc["value"] == pytest.approx(0.72) and auc["finding_id"]

    with pytest.raises(MlflowException) as err:
        client.set_registered_model_alias(name, "production", mv.version)
    assert err.value.error_code == "PERMISSION_DENIED"
    assert "Validation sign off" in err.value.message
    # An alias that is not a promotion is fine.
    client.set_registered_model_alias(name, "candidate", mv.version)
    assert client.get_registered_model(name).aliases == {"candidate": mv.version}

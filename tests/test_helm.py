"""The Helm chart, rendered and linted by the real Helm engine, validated against Kubernetes 1.30."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from helm_python.chart import Chart, lint

CHART = Path(__file__).parent.parent / "helm"
KUBERNETES = "1.30"
CUSTOM_KINDS = {"ServiceMonitor"}
DATABASE = {"url": "postgresql+psycopg://readiness:secret@postgres.db.svc:5432/readiness"}
PRIVATE_REGISTRY = "registry.internal:5000"

PROFILES: dict[str, dict[str, Any]] = {
    "default": {"database": DATABASE},
    "air-gapped": {
        "global": {"imageRegistry": PRIVATE_REGISTRY},
        "image": {"registry": "ghcr.io", "repository": "platform/ai-readiness", "tag": "0.1.0"},
        "imagePullSecrets": ["internal-registry"],
        "ingress": {"enabled": False},
        "networkPolicy": {
            "enabled": True,
            "ingressFrom": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "portal"}}}],
            "database": {"cidrs": ["10.20.0.0/24"], "port": 5432},
        },
        "database": {"existingSecret": "readiness-database"},
        "config": {"publicBadges": True, "corsOrigins": ["https://portal.internal"]},
    },
    "production": {
        "database": {"existingSecret": "readiness-database"},
        "autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 12},
        "podDisruptionBudget": {"enabled": True, "minAvailable": 2},
        "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
        "ingress": {
            "enabled": True,
            "className": "nginx",
            "hosts": [{"host": "readiness.corp.internal", "paths": [{"path": "/", "pathType": "Prefix"}]}],
            "tls": [{"secretName": "readiness-tls", "hosts": ["readiness.corp.internal"]}],
        },
        "resources": {"requests": {"cpu": "1", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
        "config": {"workers": 4},
    },
}


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    rendered = Chart.load(str(CHART)).render(values, name="readiness", namespace="ai-readiness")
    return [
        document
        for path, text in rendered.items()
        if path.endswith(".yaml")
        for document in yaml.safe_load_all(text)
        if document
    ]


def of_kind(manifests: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [m for m in manifests if m["kind"] == kind]


def pod_specs(manifests: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for manifest in manifests:
        if manifest["kind"] in ("Deployment", "Job"):
            yield manifest["kind"], manifest["spec"]["template"]["spec"]
        elif manifest["kind"] == "Pod":
            yield "Pod", manifest["spec"]


def test_helm_lint_strict_is_clean() -> None:
    report = lint(str(CHART), {"database": DATABASE}, strict=True, kube_version="v1.30.0")

    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize("profile", PROFILES)
def test_every_manifest_validates_against_kubernetes_1_30(profile: str) -> None:
    manifests = render(PROFILES[profile])

    assert manifests
    for manifest in manifests:
        if manifest["kind"] not in CUSTOM_KINDS:
            kubernetes_validate.validate(manifest, KUBERNETES, strict=True)


@pytest.mark.parametrize("profile", PROFILES)
def test_pods_run_restricted(profile: str) -> None:
    for kind, spec in pod_specs(render(PROFILES[profile])):
        assert spec["automountServiceAccountToken"] is False, kind
        assert spec["securityContext"]["runAsNonRoot"] is True, kind
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, kind
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, kind
            assert context["allowPrivilegeEscalation"] is False, kind
            assert context["capabilities"] == {"drop": ["ALL"]}, kind
            assert "limits" in container["resources"], kind


def test_the_deployment_probes_health_and_readiness_and_writes_only_to_tmp() -> None:
    (deployment,) = of_kind(render(PROFILES["default"]), "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]

    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert deployment["spec"]["template"]["spec"]["volumes"][0]["emptyDir"]
    assert deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]


def test_migrations_run_in_a_hook_job_and_never_on_pod_start() -> None:
    manifests = render(PROFILES["default"])
    (job,) = of_kind(manifests, "Job")
    (config,) = of_kind(manifests, "ConfigMap")
    (secret,) = of_kind(manifests, "Secret")

    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    assert config["data"]["READINESS_MIGRATE_ON_START"] == "false"
    # The Secret the Job reads exists before it: a hook of a lower weight.
    assert int(secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(
        job["metadata"]["annotations"]["helm.sh/hook-weight"]
    )


def test_settings_and_secrets_reach_the_pods() -> None:
    manifests = render(PROFILES["air-gapped"])
    (deployment,) = of_kind(manifests, "Deployment")
    (config,) = of_kind(manifests, "ConfigMap")
    container = deployment["spec"]["template"]["spec"]["containers"][0]

    assert of_kind(manifests, "Secret") == []
    secret_refs = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"]}
    assert secret_refs == {
        "READINESS_DATABASE_URL": "readiness-database",
        "READINESS_BOOTSTRAP_ADMIN_KEY": "readiness-database",
    }
    assert config["data"]["READINESS_PUBLIC_BADGES"] == "true"
    assert config["data"]["READINESS_CORS_ORIGINS"] == '["https://portal.internal"]'
    assert config["data"]["READINESS_ENVIRONMENT"] == "production"


def test_an_air_gapped_install_pulls_only_from_the_private_registry() -> None:
    manifests = render(PROFILES["air-gapped"])
    images = [c["image"] for _, spec in pod_specs(manifests) for c in spec["containers"]]

    assert images
    assert all(image.startswith(f"{PRIVATE_REGISTRY}/platform/ai-readiness:") for image in images), images
    assert of_kind(manifests, "Ingress") == []
    for _, spec in pod_specs(manifests):
        assert spec["imagePullSecrets"] == [{"name": "internal-registry"}]


def test_the_network_policy_admits_only_what_it_needs() -> None:
    (policy,) = of_kind(render(PROFILES["air-gapped"]), "NetworkPolicy")
    spec = policy["spec"]

    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["ingress"][0]["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "portal"}}}
    ]
    destinations = [rule["ports"][0]["port"] for rule in spec["egress"]]
    assert destinations == [53, 5432, "http"]
    assert spec["egress"][1]["to"] == [{"ipBlock": {"cidr": "10.20.0.0/24"}}]


def test_the_production_profile_scales_keeps_capacity_and_is_scraped() -> None:
    manifests = render(PROFILES["production"])
    (hpa,) = of_kind(manifests, "HorizontalPodAutoscaler")
    (pdb,) = of_kind(manifests, "PodDisruptionBudget")
    (monitor,) = of_kind(manifests, "ServiceMonitor")
    (deployment,) = of_kind(manifests, "Deployment")
    (ingress,) = of_kind(manifests, "Ingress")

    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 12)
    assert "replicas" not in deployment["spec"]
    assert pdb["spec"]["minAvailable"] == 2
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert ingress["spec"]["tls"][0]["secretName"] == "readiness-tls"


def test_helm_test_calls_readyz() -> None:
    (pod,) = of_kind(render(PROFILES["default"]), "Pod")

    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    assert "/readyz" in " ".join(pod["spec"]["containers"][0]["command"])


@pytest.mark.parametrize(
    "values",
    [
        {"replicaCount": "two"},
        {"replicaCount": 0},
        {"image": {"repository": "x", "pullPolicy": "Sometimes"}},
        {"service": {"port": 70000}},
        {"replicas": 3},
        {"config": {"workers": "many"}},
    ],
)
def test_the_values_schema_rejects_bad_values(values: dict[str, Any]) -> None:
    report = lint(str(CHART), {"database": DATABASE, **values}, strict=True)

    assert report["errors"] or [m for m in report["messages"] if m["severity"] >= 3]
    with pytest.raises(Exception, match="(?i)schema|values"):
        render({"database": DATABASE, **values})


def test_a_database_is_required() -> None:
    with pytest.raises(Exception, match="database.existingSecret"):
        render({})

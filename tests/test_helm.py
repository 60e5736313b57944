"""The Helm chart, rendered and linted by the real Helm engine, validated against Kubernetes 1.30."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from helm_python.chart import Chart, lint

from app.core.settings import Settings

CHART = Path(__file__).parent.parent / "helm"
KUBERNETES = "1.30"
CUSTOM_KINDS = {"ServiceMonitor"}
DATABASE = {"url": "postgresql+psycopg://readiness:secret@postgres.db.svc:5432/readiness"}
PRIVATE_REGISTRY = "registry.internal:5000"
API = "readiness-ai-readiness"
WORKER = "readiness-ai-readiness-worker"
PROMETHEUS = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
RECEIVERS_BY_NAME = {"ipBlock": {"cidr": "10.50.3.0/24"}}
ISSUER = "https://keycloak.corp.internal/realms/ai"
TO_THE_ISSUER = {"to": [{"ipBlock": {"cidr": "10.60.0.10/32"}}], "ports": [{"port": 443, "protocol": "TCP"}]}
INGRESS_PODS = "10.244.0.0/16"
TO_THE_RELAY = {"to": [{"ipBlock": {"cidr": "10.70.0.25/32"}}], "ports": [{"port": 2525, "protocol": "TCP"}]}
SCRAPE_KEY = {"name": "readiness-prometheus", "key": "api-key"}
OIDC = {
    "issuer": ISSUER,
    "audience": "ai-readiness",
    "rolesClaim": "realm_access.roles",
    "roleMap": {"Readiness.Writer": "writer", "steering-committee": "approver"},
    "departmentsClaim": "groups",
    "nameClaim": "email",
    "algorithms": ["RS256", "ES256"],
    "leewaySeconds": 30,
    "jwksMinRefreshSeconds": 120,
    "clientId": "ai-readiness-dashboard",
    "clientSecret": "a-client-secret-from-values",
    "providerName": "Corp SSO",
    "scopes": ["openid", "profile", "roles"],
    "egress": [TO_THE_ISSUER],
}

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
        "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}, "bearerTokenSecret": SCRAPE_KEY},
        "oidc": {"issuer": ISSUER, "audience": "ai-readiness", "clientId": "dashboard", "existingSecret": "corp-oidc"},
        "rateLimit": {"requestsPerSecond": 20, "authFailuresPerMinute": 10, "trustedProxies": [INGRESS_PODS]},
        "ingress": {
            "enabled": True,
            "className": "nginx",
            "hosts": [{"host": "readiness.corp.internal", "paths": [{"path": "/", "pathType": "Prefix"}]}],
            "tls": [{"secretName": "readiness-tls", "hosts": ["readiness.corp.internal"]}],
        },
        "resources": {"requests": {"cpu": "1", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
        "config": {"workers": 4},
    },
    "webhooks": {
        "database": {"existingSecret": "readiness-database"},
        "networkPolicy": {"metricsFrom": [PROMETHEUS], "database": {"cidrs": ["10.20.0.0/24"]}},
        "serviceMonitor": {"enabled": True},
        "metrics": {"public": True},
        "webhooks": {
            "allowedDestinations": ["hooks.corp.internal", "*.partner.example", "10.40.0.0/24", "192.0.2.7"],
            "allowHttp": True,
            "egress": [{"to": [RECEIVERS_BY_NAME], "ports": [{"port": 8443, "protocol": "TCP"}]}],
        },
        "worker": {"replicaCount": 2, "podAnnotations": {"team": "platform"}},
        "config": {"eventRetentionDays": 90},
    },
    "oidc": {
        "database": DATABASE,
        "oidc": OIDC,
        "docs": {"public": True},
        "config": {"publicUrl": "https://readiness.corp.internal"},
    },
    "notifications": {
        "database": DATABASE,
        "config": {"publicUrl": "https://readiness.corp.internal", "timezone": "Europe/Paris"},
        "notifications": {
            "smtp": {
                "host": "smtp.corp.internal",
                "port": 2525,
                "starttls": True,
                "from": "ai-readiness@corp.internal",
                "username": "ai-readiness",
                "existingSecret": "relay-credentials",
            },
            "egress": [TO_THE_RELAY],
        },
    },
    "without-worker": {
        "database": DATABASE,
        "worker": {"enabled": False},
        "webhooks": {"allowedDestinations": ["10.40.0.0/24"]},
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


def named(manifests: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (manifest,) = [m for m in of_kind(manifests, kind) if m["metadata"]["name"] == name]
    return manifest


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def container_of(deployment: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    (container,) = containers
    return container


def env_values(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


def env_refs(container: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container.get("env", []) if "valueFrom" in e}


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
    deployment = named(render(PROFILES["default"]), "Deployment", API)
    container = container_of(deployment)

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
    (config,) = of_kind(manifests, "ConfigMap")
    container = container_of(named(manifests, "Deployment", API))

    assert of_kind(manifests, "Secret") == []
    secret_refs = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "valueFrom" in e}
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
    spec = named(render(PROFILES["air-gapped"]), "NetworkPolicy", API)["spec"]

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
    monitor = named(manifests, "ServiceMonitor", API)
    deployment = named(manifests, "Deployment", API)
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


def test_the_worker_runs_readiness_worker_like_the_api_pods_run_serve() -> None:
    manifests = render(PROFILES["webhooks"])
    api, worker = named(manifests, "Deployment", API), named(manifests, "Deployment", WORKER)
    api_pod, worker_pod = api["spec"]["template"]["spec"], worker["spec"]["template"]["spec"]
    api_container, worker_container = container_of(api), container_of(worker)

    assert worker_container["args"] == ["worker"]
    assert worker["spec"]["replicas"] == 2
    for key in ("serviceAccountName", "automountServiceAccountToken", "securityContext", "volumes"):
        assert worker_pod[key] == api_pod[key], key
    for key in ("image", "envFrom", "securityContext", "volumeMounts"):
        assert worker_container[key] == api_container[key], key
    api_secrets = [e for e in api_container["env"] if "valueFrom" in e]
    assert worker_container["env"] == api_secrets
    assert worker_container["ports"] == [{"name": "metrics", "containerPort": 9100, "protocol": "TCP"}]
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert worker_container[probe]["httpGet"] == {"path": "/metrics", "port": "metrics"}, probe
    assert worker_container["resources"] == {
        "requests": {"cpu": "100m", "memory": "192Mi"},
        "limits": {"memory": "384Mi"},
    }
    assert worker["spec"]["template"]["metadata"]["annotations"]["team"] == "platform"


def test_the_api_pods_leave_the_background_work_to_the_worker() -> None:
    with_worker = container_of(named(render(PROFILES["default"]), "Deployment", API))
    without = render(PROFILES["without-worker"])

    assert env_values(with_worker) == {"READINESS_RESCORER": "false", "READINESS_DISPATCHER": "false"}
    assert [d["metadata"]["name"] for d in of_kind(without, "Deployment")] == [API]
    assert env_values(container_of(named(without, "Deployment", API))) == {}


def test_no_selector_of_the_api_selects_the_worker_pods() -> None:
    manifests = render(PROFILES["production"])
    worker = named(manifests, "Deployment", WORKER)
    worker_pods = worker["spec"]["template"]["metadata"]["labels"]
    worker_service = named(manifests, "Service", WORKER)
    api_selectors = {
        "Deployment": named(manifests, "Deployment", API)["spec"]["selector"]["matchLabels"],
        "Service": named(manifests, "Service", API)["spec"]["selector"],
        "PodDisruptionBudget": named(manifests, "PodDisruptionBudget", API)["spec"]["selector"]["matchLabels"],
        "NetworkPolicy": named(manifests, "NetworkPolicy", API)["spec"]["podSelector"]["matchLabels"],
    }

    assert worker_pods["app.kubernetes.io/component"] == "worker"
    for kind, selector in api_selectors.items():
        assert not selects(selector, worker_pods), kind
    assert not selects(
        named(manifests, "ServiceMonitor", API)["spec"]["selector"]["matchLabels"], worker_service["metadata"]["labels"]
    )
    assert selects(worker["spec"]["selector"]["matchLabels"], worker_pods)
    assert selects(worker_service["spec"]["selector"], worker_pods)
    assert selects(named(manifests, "NetworkPolicy", WORKER)["spec"]["podSelector"]["matchLabels"], worker_pods)


def test_the_worker_metrics_are_scraped_through_a_headless_service() -> None:
    manifests = render(PROFILES["production"])
    service = named(manifests, "Service", WORKER)
    monitor = named(manifests, "ServiceMonitor", WORKER)

    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 9100, "targetPort": "metrics", "protocol": "TCP"}]
    assert selects(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"


def test_webhook_settings_reach_the_pods() -> None:
    (config,) = of_kind(render(PROFILES["webhooks"]), "ConfigMap")

    assert config["data"]["READINESS_WEBHOOK_ALLOWED_DESTINATIONS"] == (
        "hooks.corp.internal,*.partner.example,10.40.0.0/24,192.0.2.7"
    )
    assert config["data"]["READINESS_WEBHOOK_ALLOW_HTTP"] == "true"
    assert config["data"]["READINESS_EVENT_SOURCE"] == "urn:ai-readiness:readiness"
    assert config["data"]["READINESS_EVENT_RETENTION_DAYS"] == "90"
    assert config["data"]["READINESS_WORKER_METRICS_PORT"] == "9100"


def test_the_worker_network_policy_admits_scraping_and_reaches_only_dns_the_database_and_receivers() -> None:
    spec = named(render(PROFILES["webhooks"]), "NetworkPolicy", WORKER)["spec"]
    dns, database, derived, by_name = spec["egress"]

    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["ingress"] == [{"ports": [{"port": "metrics", "protocol": "TCP"}], "from": [PROMETHEUS]}]
    assert dns["ports"][0]["port"] == 53
    assert database["to"] == [{"ipBlock": {"cidr": "10.20.0.0/24"}}]
    # NetworkPolicy cannot match hostnames: only the IP and CIDR entries become ipBlocks.
    assert derived["to"] == [{"ipBlock": {"cidr": "10.40.0.0/24"}}, {"ipBlock": {"cidr": "192.0.2.7/32"}}]
    assert [port["port"] for port in derived["ports"]] == [443, 80]
    assert by_name == {"to": [RECEIVERS_BY_NAME], "ports": [{"port": 8443, "protocol": "TCP"}]}
    assert "hooks.corp.internal" not in yaml.safe_dump(spec)


def test_only_the_pods_that_deliver_webhooks_may_reach_the_receivers() -> None:
    receivers = [{"ipBlock": {"cidr": "10.40.0.0/24"}}]
    with_worker = render({**PROFILES["without-worker"], "worker": {"enabled": True}})
    without = render(PROFILES["without-worker"])

    assert receivers not in [rule["to"] for rule in named(with_worker, "NetworkPolicy", API)["spec"]["egress"]]
    assert receivers in [rule["to"] for rule in named(with_worker, "NetworkPolicy", WORKER)["spec"]["egress"]]
    assert receivers in [rule["to"] for rule in named(without, "NetworkPolicy", API)["spec"]["egress"]]
    assert [p["metadata"]["name"] for p in of_kind(without, "NetworkPolicy")] == [API]


def test_the_worker_metrics_admit_the_release_namespace_by_default() -> None:
    spec = named(render(PROFILES["default"]), "NetworkPolicy", WORKER)["spec"]

    assert spec["ingress"][0]["from"] == [{"podSelector": {}}]
    assert [rule["ports"][0]["port"] for rule in spec["egress"]] == [53]


@pytest.mark.parametrize(
    "values",
    [
        {"replicaCount": "two"},
        {"replicaCount": 0},
        {"image": {"repository": "x", "pullPolicy": "Sometimes"}},
        {"service": {"port": 70000}},
        {"replicas": 3},
        {"config": {"workers": "many"}},
        {"worker": {"replicas": 2}},
        {"worker": {"replicaCount": 0}},
        {"worker": {"livenessProbe": {"httpGet": {"path": "/"}}}},
        {"webhooks": {"allowedDestinations": ["hooks.corp.internal,10.0.0.0/8"]}},
        {"webhooks": {"egress": [{"from": [PROMETHEUS]}]}},
        {"config": {"eventRetentionDays": 0}},
        {"oidc": {"issuer": "http://keycloak.corp.internal/realms/ai"}},
        {"oidc": {"roleMap": {"Readiness.Owner": "owner"}}},
        {"oidc": {"algorithms": ["HS256"]}},
        {"oidc": {"leewaySeconds": 3600}},
        {"oidc": {"egress": [{"from": [PROMETHEUS]}]}},
        {"oidc": {"clientSecretKey": ""}},
        {"oidc": {"scopes": ["openid profile"]}},
        {"config": {"publicUrl": "readiness.corp.internal"}},
        {"rateLimit": {"requestsPerSecond": -1}},
        {"rateLimit": {"authFailuresPerMinute": 1.5}},
        {"rateLimit": {"trustedProxies": ["ingress-nginx"]}},
        {"docs": {"public": "yes"}},
        {"metrics": {"public": "no"}},
        {"serviceMonitor": {"bearerTokenSecret": {"name": "readiness-prometheus", "key": ""}}},
        {"notifications": {"smtp": {"port": 0}}},
        {"notifications": {"smtp": {"password": "in-values"}}},
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


def service_settings(manifests: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings the API pods would read from the environment the chart gives them."""
    (config,) = of_kind(manifests, "ConfigMap")
    for name, value in {**config["data"], **env_values(container_of(named(manifests, "Deployment", API)))}.items():
        monkeypatch.setenv(name, value)
    return Settings()


def test_helm_lint_strict_is_clean_with_identity_and_abuse_controls() -> None:
    report = lint(str(CHART), PROFILES["oidc"], strict=True, kube_version="v1.30.0")

    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_oidc_settings_reach_the_api_pods_as_the_service_reads_them(monkeypatch: pytest.MonkeyPatch) -> None:
    manifests = render(PROFILES["oidc"])
    env = env_values(container_of(named(manifests, "Deployment", API)))

    assert env["READINESS_OIDC_ROLE_MAP"] == '{"Readiness.Writer":"writer","steering-committee":"approver"}'
    assert env["READINESS_OIDC_CLIENT_ID"] == "ai-readiness-dashboard"
    settings = service_settings(manifests, monkeypatch)
    assert settings.oidc_issuer == ISSUER
    assert settings.oidc_audience == "ai-readiness"
    assert settings.oidc_roles_claim == "realm_access.roles"
    assert settings.oidc_role_map == {"Readiness.Writer": "writer", "steering-committee": "approver"}
    assert settings.oidc_departments_claim == "groups"
    assert settings.oidc_name_claim == "email"
    assert settings.oidc_algorithms == ["RS256", "ES256"]
    assert (settings.oidc_leeway_seconds, settings.oidc_jwks_min_refresh_seconds) == (30, 120)


def test_the_dashboard_sign_in_reaches_the_service_with_the_client_secret_from_its_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manifests = render(PROFILES["oidc"])
    secrets = {secret["metadata"]["name"]: secret["stringData"] for secret in of_kind(manifests, "Secret")}
    for name, ref in env_refs(container_of(named(manifests, "Deployment", API))).items():
        # The key an optional reference names may be absent, as the bootstrap key is here.
        if ref["key"] in secrets.get(ref["name"], {}):
            monkeypatch.setenv(name, secrets[ref["name"]][ref["key"]])

    settings = service_settings(manifests, monkeypatch)

    assert settings.oidc_sign_in
    assert settings.oidc_client_id == "ai-readiness-dashboard"
    assert settings.oidc_client_secret is not None
    assert settings.oidc_client_secret.get_secret_value() == "a-client-secret-from-values"
    assert "a-client-secret-from-values" not in repr(settings)
    assert settings.oidc_provider_name == "Corp SSO"
    assert settings.oidc_scopes == ["openid", "profile", "roles"]
    assert settings.public_url == "https://readiness.corp.internal"


def test_the_notes_name_the_redirect_uri_to_register() -> None:
    rendered = Chart.load(str(CHART)).render(PROFILES["oidc"], name="readiness", namespace="ai-readiness")
    notes = next(text for path, text in rendered.items() if path.endswith("NOTES.txt"))

    assert "https://readiness.corp.internal/ui/auth/callback" in notes
    assert "the client ai-readiness-dashboard" in notes


def test_oidc_settings_reach_neither_the_workers_nor_the_migration_job() -> None:
    manifests = render(PROFILES["oidc"])
    (config,) = of_kind(manifests, "ConfigMap")
    (job,) = of_kind(manifests, "Job")

    assert not [name for name in config["data"] if name.startswith("READINESS_OIDC")]
    for container in (
        container_of(named(manifests, "Deployment", WORKER)),
        job["spec"]["template"]["spec"]["containers"][0],
    ):
        assert not [e["name"] for e in container["env"] if e["name"].startswith("READINESS_OIDC")]


def test_without_an_issuer_the_api_pods_take_api_keys_only() -> None:
    manifests = render({"database": DATABASE, "oidc": {"clientId": "dashboard", "clientSecret": "unused"}})
    container = container_of(named(manifests, "Deployment", API))

    assert not [e["name"] for e in container["env"] if e["name"].startswith("READINESS_OIDC")]
    assert [s["metadata"]["name"] for s in of_kind(manifests, "Secret")] == [f"{API}-database"]


def test_the_client_secret_from_values_goes_into_a_secret_of_the_charts() -> None:
    manifests = render(PROFILES["oidc"])
    secret = named(manifests, "Secret", f"{API}-oidc")
    deployment = named(manifests, "Deployment", API)

    assert secret["stringData"] == {"client-secret": "a-client-secret-from-values"}
    assert env_refs(container_of(deployment))["READINESS_OIDC_CLIENT_SECRET"] == {
        "name": f"{API}-oidc",
        "key": "client-secret",
    }
    assert "a-client-secret-from-values" not in yaml.safe_dump(deployment)
    assert "checksum/oidc-secret" in deployment["spec"]["template"]["metadata"]["annotations"]


def test_an_existing_secret_holds_the_client_secret_and_the_chart_renders_none() -> None:
    manifests = render({**PROFILES["oidc"], "oidc": {**OIDC, "existingSecret": "corp-oidc"}})
    deployment = named(manifests, "Deployment", API)

    assert [s["metadata"]["name"] for s in of_kind(manifests, "Secret")] == [f"{API}-database"]
    assert env_refs(container_of(deployment))["READINESS_OIDC_CLIENT_SECRET"] == {
        "name": "corp-oidc",
        "key": "client-secret",
    }
    assert "checksum/oidc-secret" not in deployment["spec"]["template"]["metadata"]["annotations"]


def test_an_issuer_needs_an_audience() -> None:
    with pytest.raises(Exception, match="oidc.audience is required"):
        render({"database": DATABASE, "oidc": {"issuer": ISSUER}})


def test_only_the_api_pods_may_reach_the_openid_provider() -> None:
    manifests = render(PROFILES["oidc"])
    api_egress = named(manifests, "NetworkPolicy", API)["spec"]["egress"]
    worker_egress = named(manifests, "NetworkPolicy", WORKER)["spec"]["egress"]

    assert TO_THE_ISSUER in api_egress
    assert TO_THE_ISSUER not in worker_egress
    assert TO_THE_ISSUER not in named(render(PROFILES["default"]), "NetworkPolicy", API)["spec"]["egress"]


def test_the_notes_warn_when_the_issuer_is_unreachable_through_the_network_policy() -> None:
    def notes(values: dict[str, Any]) -> str:
        rendered = Chart.load(str(CHART)).render(values, name="readiness", namespace="ai-readiness")
        return next(text for path, text in rendered.items() if path.endswith("NOTES.txt"))

    assert "oidc.egress is empty" in notes({"database": DATABASE, "oidc": {**OIDC, "egress": []}})
    assert "oidc.egress is empty" not in notes(PROFILES["oidc"])


def test_rate_limits_and_trusted_proxies_reach_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    (defaults,) = of_kind(render(PROFILES["default"]), "ConfigMap")
    settings = service_settings(render(PROFILES["production"]), monkeypatch)

    assert defaults["data"]["READINESS_RATE_LIMIT"] == "50"
    assert defaults["data"]["READINESS_AUTH_FAILURE_LIMIT"] == "30"
    assert defaults["data"]["READINESS_TRUSTED_PROXIES"] == "[]"
    assert (settings.rate_limit, settings.auth_failure_limit) == (20, 10)
    assert settings.trusted_proxies == [INGRESS_PODS]


def test_docs_and_metrics_are_private_unless_made_public(monkeypatch: pytest.MonkeyPatch) -> None:
    (private,) = of_kind(render(PROFILES["default"]), "ConfigMap")
    public = service_settings(
        render({"database": DATABASE, "docs": {"public": True}, "metrics": {"public": True}}), monkeypatch
    )

    assert (private["data"]["READINESS_PUBLIC_DOCS"], private["data"]["READINESS_PUBLIC_METRICS"]) == ("false", "false")
    assert public.docs_are_public
    assert public.metrics_are_public


def test_the_deprecated_config_public_metrics_still_wins() -> None:
    (config,) = of_kind(render({"database": DATABASE, "config": {"publicMetrics": True}}), "ConfigMap")

    assert config["data"]["READINESS_PUBLIC_METRICS"] == "true"


def test_prometheus_scrapes_private_metrics_with_a_bearer_credential() -> None:
    manifests = render(PROFILES["production"])
    (api_endpoint,) = named(manifests, "ServiceMonitor", API)["spec"]["endpoints"]
    (worker_endpoint,) = named(manifests, "ServiceMonitor", WORKER)["spec"]["endpoints"]

    assert api_endpoint["authorization"] == {"type": "Bearer", "credentials": SCRAPE_KEY}
    # The worker's metrics port takes no credential: its NetworkPolicy guards it.
    assert "authorization" not in worker_endpoint


def test_a_service_monitor_of_private_metrics_needs_a_credential() -> None:
    with pytest.raises(Exception, match="serviceMonitor.bearerTokenSecret"):
        render({"database": DATABASE, "serviceMonitor": {"enabled": True}})
    (endpoint,) = named(render(PROFILES["webhooks"]), "ServiceMonitor", API)["spec"]["endpoints"]

    assert "authorization" not in endpoint


def test_notification_settings_reach_the_pods_that_send_and_the_password_only_from_a_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manifests = render(PROFILES["notifications"])
    (config,) = of_kind(manifests, "ConfigMap")
    worker = container_of(named(manifests, "Deployment", WORKER))
    api = container_of(named(manifests, "Deployment", API))
    (job,) = of_kind(manifests, "Job")

    assert "READINESS_SMTP_PASSWORD" not in config["data"]
    assert env_refs(worker)["READINESS_SMTP_PASSWORD"] == {"name": "relay-credentials", "key": "smtp-password"}
    for container in (api, job["spec"]["template"]["spec"]["containers"][0]):
        assert "READINESS_SMTP_PASSWORD" not in env_refs(container)
    settings = service_settings(manifests, monkeypatch)
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_starttls) == ("smtp.corp.internal", 2525, True)
    assert (settings.smtp_from, settings.smtp_username) == ("ai-readiness@corp.internal", "ai-readiness")
    assert settings.smtp_password is None
    assert settings.public_url == "https://readiness.corp.internal"
    assert settings.timezone == "Europe/Paris"
    policy = named(manifests, "NetworkPolicy", WORKER)
    assert TO_THE_RELAY in policy["spec"]["egress"]


def test_without_workers_the_api_pods_send_and_get_the_relay_password() -> None:
    values = {**PROFILES["notifications"], "worker": {"enabled": False}}
    manifests = render(values)
    api = container_of(named(manifests, "Deployment", API))

    assert env_refs(api)["READINESS_SMTP_PASSWORD"] == {"name": "relay-credentials", "key": "smtp-password"}
    assert TO_THE_RELAY in named(manifests, "NetworkPolicy", API)["spec"]["egress"]


def test_a_relay_username_needs_the_secret_holding_its_password() -> None:
    with pytest.raises(Exception, match="notifications.smtp.existingSecret"):
        render({"database": DATABASE, "notifications": {"smtp": {"host": "smtp.corp.internal", "username": "me"}}})

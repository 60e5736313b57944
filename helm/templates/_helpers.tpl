{{/* Chart name, truncated for DNS labels. */}}
{{- define "ai-readiness.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name. */}}
{{- define "ai-readiness.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "ai-readiness.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ai-readiness.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ai-readiness.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ai-readiness.labels" -}}
helm.sh/chart: {{ include "ai-readiness.chart" . }}
{{ include "ai-readiness.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ai-readiness
{{- end }}

{{/*
The worker's resources and pods. Its pods carry a name label of their own, so that no selector of
the API matches them: not the API Deployment's, which is immutable and selects by name and
instance only, nor the API's NetworkPolicy, Service, PodDisruptionBudget or ServiceMonitor.
*/}}
{{- define "ai-readiness.workerFullname" -}}
{{- printf "%s-worker" (include "ai-readiness.fullname" . | trunc 56 | trimSuffix "-") }}
{{- end }}

{{- define "ai-readiness.workerSelectorLabels" -}}
app.kubernetes.io/name: {{ printf "%s-worker" (include "ai-readiness.name" . | trunc 56 | trimSuffix "-") }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: worker
{{- end }}

{{- define "ai-readiness.workerLabels" -}}
helm.sh/chart: {{ include "ai-readiness.chart" . }}
{{ include "ai-readiness.workerSelectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ai-readiness
{{- end }}

{{/* registry/repository:tag (or @digest); global.imageRegistry wins over image.registry. */}}
{{- define "ai-readiness.image" -}}
{{- $registry := .Values.global.imageRegistry | default .Values.image.registry -}}
{{- $repository := .Values.image.repository -}}
{{- $reference := printf "%s" $repository -}}
{{- if $registry }}{{- $reference = printf "%s/%s" $registry $repository -}}{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $reference .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $reference (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end }}

{{- define "ai-readiness.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ai-readiness.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ai-readiness.secretName" -}}
{{- .Values.database.existingSecret | default (printf "%s-database" (include "ai-readiness.fullname" .)) }}
{{- end }}

{{/* The service's settings, shared by the Deployment (through the ConfigMap) and the migration Job. */}}
{{- define "ai-readiness.settings" -}}
READINESS_ENVIRONMENT: "production"
READINESS_HOST: "0.0.0.0"
READINESS_PORT: "8000"
READINESS_MIGRATE_ON_START: "false"
READINESS_WORKERS: {{ .Values.config.workers | quote }}
READINESS_DATABASE_POOL_SIZE: {{ .Values.config.databasePoolSize | quote }}
READINESS_LOG_LEVEL: {{ .Values.config.logLevel | quote }}
READINESS_LOG_FORMAT: {{ .Values.config.logFormat | quote }}
READINESS_PUBLIC_BADGES: {{ .Values.config.publicBadges | quote }}
READINESS_PUBLIC_METRICS: {{ include "ai-readiness.metricsArePublic" . | quote }}
READINESS_PUBLIC_DOCS: {{ .Values.docs.public | quote }}
READINESS_RATE_LIMIT: {{ .Values.rateLimit.requestsPerSecond | quote }}
READINESS_AUTH_FAILURE_LIMIT: {{ .Values.rateLimit.authFailuresPerMinute | quote }}
READINESS_TRUSTED_PROXIES: {{ .Values.rateLimit.trustedProxies | toJson | quote }}
READINESS_CORS_ORIGINS: {{ .Values.config.corsOrigins | toJson | quote }}
READINESS_STAGE_LIMITS_DAYS: {{ .Values.config.stageLimitsDays | toJson | quote }}
READINESS_WORKER_METRICS_PORT: {{ include "ai-readiness.workerMetricsPort" . | quote }}
READINESS_WEBHOOK_ALLOWED_DESTINATIONS: {{ join "," .Values.webhooks.allowedDestinations | quote }}
READINESS_WEBHOOK_ALLOW_HTTP: {{ .Values.webhooks.allowHttp | quote }}
READINESS_EVENT_SOURCE: {{ printf "urn:ai-readiness:%s" .Release.Name | quote }}
READINESS_EVENT_RETENTION_DAYS: {{ .Values.config.eventRetentionDays | quote }}
READINESS_TIMEZONE: {{ .Values.config.timezone | quote }}
{{- with .Values.config.publicUrl }}
READINESS_PUBLIC_URL: {{ . | quote }}
{{- end }}
{{- with .Values.notifications.smtp }}
{{- if .host }}
READINESS_SMTP_HOST: {{ .host | quote }}
READINESS_SMTP_PORT: {{ .port | quote }}
READINESS_SMTP_STARTTLS: {{ .starttls | quote }}
{{- with .from }}
READINESS_SMTP_FROM: {{ . | quote }}
{{- end }}
{{- with .username }}
READINESS_SMTP_USERNAME: {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- range $name, $value := .Values.config.extra }}
READINESS_{{ $name }}: {{ $value | quote }}
{{- end }}
{{- end }}

{{- define "ai-readiness.secretEnv" -}}
- name: READINESS_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "ai-readiness.secretName" . }}
      key: {{ .Values.database.urlKey }}
- name: READINESS_BOOTSTRAP_ADMIN_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "ai-readiness.secretName" . }}
      key: {{ .Values.database.bootstrapAdminKeyKey }}
      optional: true
{{- end }}

{{/*
The SMTP relay's password, from a Secret you manage, for the pods that send notifications (the
workers, or the API pods without them); with a username, the service never sends without it.
*/}}
{{- define "ai-readiness.smtpEnv" -}}
{{- with .Values.notifications.smtp }}
{{- if and .username (not .existingSecret) }}
{{- fail "notifications.smtp.username needs notifications.smtp.existingSecret: a Secret holding the relay's password" }}
{{- end }}
{{- if and .username .existingSecret }}
- name: READINESS_SMTP_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .existingSecret }}
      key: {{ .passwordKey }}
{{- end }}
{{- end }}
{{- end }}

{{/* Egress to the SMTP relay, for the pods that send notifications. */}}
{{- define "ai-readiness.egress.smtp" -}}
{{- with .Values.notifications.egress }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* metrics.public, unless the deprecated config.publicMetrics is still set: "true" or "false". */}}
{{- define "ai-readiness.metricsArePublic" -}}
{{- if hasKey .Values.config "publicMetrics" }}
{{- .Values.config.publicMetrics | toString }}
{{- else }}
{{- .Values.metrics.public | toString }}
{{- end }}
{{- end }}

{{- define "ai-readiness.oidcSecretName" -}}
{{- .Values.oidc.existingSecret | default (printf "%s-oidc" (include "ai-readiness.fullname" .)) }}
{{- end }}

{{/*
The OpenID Connect settings, for the API pods only (the workers authenticate no one); nothing
without an issuer. The client secret comes from a Secret, never from a plain value.
*/}}
{{- define "ai-readiness.oidcEnv" -}}
{{- with .Values.oidc }}
{{- if .issuer }}
{{- if not .audience }}
{{- fail "oidc.audience is required with oidc.issuer: the `aud` the provider's access tokens carry for this service" }}
{{- end }}
- name: READINESS_OIDC_ISSUER
  value: {{ .issuer | quote }}
- name: READINESS_OIDC_AUDIENCE
  value: {{ .audience | quote }}
- name: READINESS_OIDC_ROLES_CLAIM
  value: {{ .rolesClaim | quote }}
- name: READINESS_OIDC_ROLE_MAP
  value: {{ .roleMap | toJson | quote }}
- name: READINESS_OIDC_DEPARTMENTS_CLAIM
  value: {{ .departmentsClaim | quote }}
{{- with .nameClaim }}
- name: READINESS_OIDC_NAME_CLAIM
  value: {{ . | quote }}
{{- end }}
{{- with .algorithms }}
- name: READINESS_OIDC_ALGORITHMS
  value: {{ . | toJson | quote }}
{{- end }}
- name: READINESS_OIDC_LEEWAY_SECONDS
  value: {{ .leewaySeconds | quote }}
- name: READINESS_OIDC_JWKS_MIN_REFRESH_SECONDS
  value: {{ .jwksMinRefreshSeconds | quote }}
{{- with .clientId }}
- name: READINESS_OIDC_CLIENT_ID
  value: {{ . | quote }}
{{- end }}
{{- with .providerName }}
- name: READINESS_OIDC_PROVIDER_NAME
  value: {{ . | quote }}
{{- end }}
{{- with .scopes }}
- name: READINESS_OIDC_SCOPES
  value: {{ . | toJson | quote }}
{{- end }}
{{- if or .existingSecret .clientSecret }}
- name: READINESS_OIDC_CLIENT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "ai-readiness.oidcSecretName" $ }}
      key: {{ .clientSecretKey }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{- define "ai-readiness.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ if kindIs "string" . }}{{ . }}{{ else }}{{ .name }}{{ end }}
  {{- end }}
{{- end }}
{{- end }}

{{/* Where `readiness worker` serves its Prometheus metrics. */}}
{{- define "ai-readiness.workerMetricsPort" -}}
9100
{{- end }}

{{/* NetworkPolicy egress rules shared by the API's policy and the worker's. */}}
{{- define "ai-readiness.egress.dns" -}}
- ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
  to:
    - namespaceSelector:
        {{- toYaml .Values.networkPolicy.dns.namespaceSelector | nindent 8 }}
      podSelector:
        {{- toYaml .Values.networkPolicy.dns.podSelector | nindent 8 }}
{{- end }}

{{- define "ai-readiness.egress.database" -}}
{{- if or .Values.networkPolicy.database.cidrs .Values.networkPolicy.database.peers }}
- ports:
    - port: {{ .Values.networkPolicy.database.port }}
      protocol: TCP
  to:
    {{- range .Values.networkPolicy.database.cidrs }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
    {{- with .Values.networkPolicy.database.peers }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}
{{- end }}

{{/*
Egress to the webhook receivers, for the pods that run the dispatcher. NetworkPolicy matches
addresses, not names: the IP and CIDR entries of webhooks.allowedDestinations become ipBlocks on
443 (and 80 with allowHttp), and webhooks.egress adds the rules for everything else.
*/}}
{{- define "ai-readiness.egress.webhooks" -}}
{{- $cidrs := include "ai-readiness.webhookCidrs" . | fromJsonArray }}
{{- with $cidrs }}
- ports:
    - port: 443
      protocol: TCP
    {{- if $.Values.webhooks.allowHttp }}
    - port: 80
      protocol: TCP
    {{- end }}
  to:
    {{- range . }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
{{- end }}
{{- with .Values.webhooks.egress }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The IP and CIDR entries of webhooks.allowedDestinations as CIDRs, a JSON list. */}}
{{- define "ai-readiness.webhookCidrs" -}}
{{- $cidrs := list }}
{{- range .Values.webhooks.allowedDestinations }}
{{- if regexMatch `^[0-9]{1,3}(\.[0-9]{1,3}){3}(/[0-9]{1,2})?$` . }}
{{- $cidrs = append $cidrs (ternary . (printf "%s/32" .) (contains "/" .)) }}
{{- else if regexMatch `^[0-9A-Fa-f]*:[0-9A-Fa-f:.]*(/[0-9]{1,3})?$` . }}
{{- $cidrs = append $cidrs (ternary . (printf "%s/128" .) (contains "/" .)) }}
{{- end }}
{{- end }}
{{- toJson $cidrs }}
{{- end }}

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
READINESS_PUBLIC_METRICS: {{ .Values.config.publicMetrics | quote }}
READINESS_CORS_ORIGINS: {{ .Values.config.corsOrigins | toJson | quote }}
READINESS_STAGE_LIMITS_DAYS: {{ .Values.config.stageLimitsDays | toJson | quote }}
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

{{- define "ai-readiness.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ if kindIs "string" . }}{{ . }}{{ else }}{{ .name }}{{ end }}
  {{- end }}
{{- end }}
{{- end }}

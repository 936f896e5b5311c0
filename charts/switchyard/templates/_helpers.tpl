{{/*
Names, labels and the small pieces every template shares.
*/}}

{{- define "switchyard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name, truncated so "<fullname>-connectors-migrate" (the longest object name
the chart builds) stays within 63 characters.
*/}}
{{- define "switchyard.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "switchyard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The five services, in the order they are rendered. */}}
{{- define "switchyard.serviceNames" -}}
edge routing connectors journal migration
{{- end }}

{{- define "switchyard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "switchyard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "switchyard.labels" -}}
helm.sh/chart: {{ include "switchyard.chart" . }}
{{ include "switchyard.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: switchyard
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels of one component: (dict "root" $ "component" "edge") */}}
{{- define "switchyard.componentLabels" -}}
{{ include "switchyard.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "switchyard.componentSelectorLabels" -}}
{{ include "switchyard.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Object name of one component: (dict "root" $ "component" "edge") */}}
{{- define "switchyard.componentName" -}}
{{- printf "%s-%s" (include "switchyard.fullname" .root) .component }}
{{- end }}

{{- define "switchyard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "switchyard.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Image of one service: (dict "root" $ "service" "edge").
global.imageRegistry + "/" + image.repository, then "@digest" or ":tag" (tag falls back to
global.imageTag, then the chart's appVersion).
*/}}
{{- define "switchyard.image" -}}
{{- $root := .root }}
{{- $image := (index $root.Values .service).image }}
{{- $repository := $image.repository }}
{{- with $root.Values.global.imageRegistry }}
{{- $repository = printf "%s/%s" (trimSuffix "/" .) $image.repository }}
{{- end }}
{{- if $image.digest }}
{{- printf "%s@%s" $repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (toString ($image.tag | default $root.Values.global.imageTag | default $root.Chart.AppVersion)) }}
{{- end }}
{{- end }}

{{/* Name of a bundled subchart's objects, following the nats and bitnami fullname rule. */}}
{{- define "switchyard.subchartFullname" -}}
{{- $values := index .root.Values .chart }}
{{- if $values.fullnameOverride }}
{{- $values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains .chart .root.Release.Name }}
{{- .root.Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .root.Release.Name .chart | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "switchyard.natsUrl" -}}
{{- if .Values.nats.enabled }}
{{- printf "nats://%s:4222" (include "switchyard.subchartFullname" (dict "root" . "chart" "nats")) }}
{{- else }}
{{- required "externalNats.url is required when nats.enabled is false" .Values.externalNats.url }}
{{- end }}
{{- end }}

{{- define "switchyard.databaseHost" -}}
{{- if .Values.postgresql.enabled }}
{{- include "switchyard.subchartFullname" (dict "root" . "chart" "postgresql") }}
{{- else }}
{{- required "externalDatabase.host is required when postgresql.enabled is false" .Values.externalDatabase.host }}
{{- end }}
{{- end }}

{{- define "switchyard.databasePort" -}}
{{- if .Values.postgresql.enabled }}5432{{ else }}{{ .Values.externalDatabase.port }}{{ end }}
{{- end }}

{{- define "switchyard.databaseName" -}}
{{- if .Values.postgresql.enabled }}
{{- .Values.postgresql.auth.database | default "switchyard" }}
{{- else }}
{{- .Values.externalDatabase.database }}
{{- end }}
{{- end }}

{{/* Secret holding one service's SY_DATABASE_URL and role password: (dict "root" $ "service" "edge") */}}
{{- define "switchyard.databaseSecretName" -}}
{{- $db := (index .root.Values .service).database }}
{{- if $db.existingSecret }}
{{- $db.existingSecret }}
{{- else }}
{{- printf "%s-db" (include "switchyard.componentName" (dict "root" .root "component" .service)) }}
{{- end }}
{{- end }}

{{/*
The hook phases of the database-setup Jobs. With an external Postgres they run before anything
else is installed or upgraded. A bundled Postgres does not exist before the release does, so on
the first install the setup runs post-install (the services wait, unready, until it is done).
*/}}
{{- define "switchyard.dbSetupHooks" -}}
{{- if .Values.postgresql.enabled }}post-install,pre-upgrade{{ else }}pre-install,pre-upgrade{{ end }}
{{- end }}

{{/* Pod-level fields every pod shares. */}}
{{- define "switchyard.podCommon" -}}
serviceAccountName: {{ include "switchyard.serviceAccountName" . }}
automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
{{ include "switchyard.podShared" . }}
{{- end }}

{{/* Pod-level fields every pod shares apart from its ServiceAccount. */}}
{{- define "switchyard.podShared" -}}
{{- with .Values.global.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end }}

{{/* Settings every service reads (SY_*), apart from the database URL. */}}
{{- define "switchyard.commonEnv" -}}
- name: SY_NATS_URL
  value: {{ include "switchyard.natsUrl" . | quote }}
- name: SY_LOG_LEVEL
  value: {{ .Values.log.level | quote }}
- name: SY_LOG_FORMAT
  value: {{ .Values.log.format | quote }}
- name: SY_INSTANCE_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- with .Values.otlp.endpoint }}
- name: SY_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- if or .Values.auth.bootstrapTokenSha256 .Values.auth.existingSecret }}
- name: SY_BOOTSTRAP_TOKEN_SHA256
  valueFrom:
    secretKeyRef:
      name: {{ .Values.auth.existingSecret | default (printf "%s-auth" (include "switchyard.fullname" .)) }}
      key: bootstrap-token-sha256
{{- end }}
{{- with .Values.auth.oidc }}
{{- if .jwksUrl }}
- name: SY_OIDC_JWKS_URL
  value: {{ .jwksUrl | quote }}
- name: SY_OIDC_ROLES_CLAIM
  value: {{ .rolesClaim | default "roles" | quote }}
{{- with .issuer }}
- name: SY_OIDC_ISSUER
  value: {{ . | quote }}
{{- end }}
{{- with .audience }}
- name: SY_OIDC_AUDIENCE
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* The one writable place in a read-only container. */}}
{{- define "switchyard.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end }}

{{- define "switchyard.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/*
NATS users (natsUsers): each service connects as sy-<service>, the provisioning hook as sy-admin.
Passwords live in one Secret under the keys edge, routing, connectors, journal, migration, admin.
*/}}
{{- define "switchyard.natsUsersSecretName" -}}
{{- .Values.natsUsers.existingSecret | default (printf "%s-nats-users" (include "switchyard.fullname" .)) }}
{{- end }}

{{/* SY_NATS_* credentials and TLS files of one user: (dict "root" $ "user" "edge"|"admin") */}}
{{- define "switchyard.natsEnv" -}}
{{- $root := .root }}
{{- if $root.Values.natsUsers.enabled }}
- name: SY_NATS_USER
  value: {{ printf "sy-%s" .user | quote }}
- name: SY_NATS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "switchyard.natsUsersSecretName" $root }}
      key: {{ .user }}
{{- end }}
{{- with $root.Values.natsTls }}
{{- if .caSecret }}
- name: SY_NATS_TLS_CA
  value: /etc/switchyard/nats-tls/ca/ca.crt
{{- end }}
{{- if .clientCertSecret }}
- name: SY_NATS_TLS_CERT
  value: /etc/switchyard/nats-tls/client/tls.crt
- name: SY_NATS_TLS_KEY
  value: /etc/switchyard/nats-tls/client/tls.key
{{- end }}
{{- end }}
{{- end }}

{{- define "switchyard.natsTlsVolumes" -}}
{{- with .Values.natsTls }}
{{- if .caSecret }}
- name: nats-tls-ca
  secret:
    secretName: {{ .caSecret }}
    defaultMode: 0444
    items:
      - key: {{ .caKey }}
        path: ca.crt
{{- end }}
{{- if .clientCertSecret }}
- name: nats-tls-client
  secret:
    secretName: {{ .clientCertSecret }}
    defaultMode: 0440
    items:
      - key: tls.crt
        path: tls.crt
      - key: tls.key
        path: tls.key
{{- end }}
{{- end }}
{{- end }}

{{- define "switchyard.natsTlsMounts" -}}
{{- with .Values.natsTls }}
{{- if .caSecret }}
- name: nats-tls-ca
  mountPath: /etc/switchyard/nats-tls/ca
  readOnly: true
{{- end }}
{{- if .clientCertSecret }}
- name: nats-tls-client
  mountPath: /etc/switchyard/nats-tls/client
  readOnly: true
{{- end }}
{{- end }}
{{- end }}

{{/*
The hook phases of the bus provisioning Job. A bundled NATS only exists once the release does, so
on the first install it runs post-install (like the database setup with a bundled Postgres).
*/}}
{{- define "switchyard.busHooks" -}}
{{- if .Values.nats.enabled }}post-install,pre-upgrade{{ else }}pre-install,pre-upgrade{{ end }}
{{- end }}

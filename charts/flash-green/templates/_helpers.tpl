{{/*
Names, labels and the small decisions several templates share.
*/}}

{{- define "flash-green.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: <release>-flash-green, unless the release name already contains the chart name. */}}
{{- define "flash-green.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "flash-green.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "flash-green.selectorLabels" -}}
app.kubernetes.io/name: {{ include "flash-green.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{/* Labels of everything the release creates, without the component. */}}
{{- define "flash-green.commonLabels" -}}
helm.sh/chart: {{ include "flash-green.chart" . }}
app.kubernetes.io/name: {{ include "flash-green.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: flash-green
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "flash-green.labels" -}}
{{ include "flash-green.commonLabels" . }}
app.kubernetes.io/component: operator
{{- end -}}

{{/* Labels of monitoring objects: common labels, then monitoring.additionalLabels, then the object's own. */}}
{{- define "flash-green.monitoringLabels" -}}
{{- $root := index . 0 -}}
{{- $own := index . 1 -}}
{{ include "flash-green.labels" $root }}
{{- with $root.Values.monitoring.additionalLabels }}
{{ toYaml . }}
{{- end }}
{{- with $own }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "flash-green.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "flash-green.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The image reference: repository@digest when a digest is given, else repository:tag. */}}
{{- define "flash-green.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{- define "flash-green.clusterWide" -}}
{{- if eq .Values.watch.mode "cluster" }}true{{ end -}}
{{- end -}}

{{/* Namespaces served in namespaced mode, as a JSON list (release namespace when none given). */}}
{{- define "flash-green.watchNamespaces" -}}
{{- if .Values.watch.namespaces -}}
{{- .Values.watch.namespaces | uniq | toJson -}}
{{- else -}}
{{- list .Release.Namespace | toJson -}}
{{- end -}}
{{- end -}}

{{- define "flash-green.webhookServiceName" -}}
{{- printf "%s-webhook" (include "flash-green.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "flash-green.webhookSecretName" -}}
{{- printf "%s-webhook-tls" (include "flash-green.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "flash-green.metricsServiceName" -}}
{{- printf "%s-metrics" (include "flash-green.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* cert-manager signs the webhook certificate when enabled and its API is served. */}}
{{- define "flash-green.useCertManager" -}}
{{- if and .Values.webhook.certManager.enabled (.Capabilities.APIVersions.Has "cert-manager.io/v1") }}true{{ end -}}
{{- end -}}

{{/* The Prometheus Operator's API is served: ServiceMonitor and PrometheusRule can be created. */}}
{{- define "flash-green.hasPrometheusOperator" -}}
{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" }}true{{ end -}}
{{- end -}}

{{/* Name of the kopf peering object the operator joins. */}}
{{- define "flash-green.peeringName" -}}
{{- include "flash-green.fullname" . -}}
{{- end -}}

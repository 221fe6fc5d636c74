{{- define "bce.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "bce.fullname" -}}
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

{{- define "bce.selectorLabels" -}}
app.kubernetes.io/name: {{ include "bce.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "bce.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "bce.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: bedrock-cost-exporter
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- /* The Service's labels (templates/service.yaml): the chart's, then service.labels. */ -}}
{{- define "bce.serviceLabels" -}}
{{ include "bce.labels" . }}
{{- with .Values.service.labels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- /* The `job` label Prometheus gives the exporter's series, as Prometheus Operator derives it
from the ServiceMonitor: the Service's name; else, with spec.jobLabel, the value of that Service
label (when the Service has it, non-empty); then the endpoint relabelings, of which one that sets
job to a fixed string wins (one that sets it from a pattern makes it unknown: empty). The rules' and dashboards' job selector defaults to it
(templates/_rules.tpl), so any release name works. scripts/check_chart_job.py checks this against a
real Prometheus applying the operator's relabelings. */ -}}
{{- define "bce.job" -}}
{{- $job := include "bce.fullname" . }}
{{- with .Values.serviceMonitor.jobLabel }}
{{- $labels := include "bce.serviceLabels" $ | fromYaml }}
{{- $v := get $labels . | toString }}
{{- if $v }}{{ $job = $v }}{{ end }}
{{- end }}
{{- range .Values.serviceMonitor.relabelings }}
{{- if eq (.targetLabel | default "" | toString) "job" }}
{{- $action := .action | default "replace" | lower }}
{{- $regex := .regex | default "(.*)" | toString }}
{{- $repl := .replacement | default "$1" | toString }}
{{- if and (eq $action "replace") (has $regex (list "(.*)" ".*" "(.+)" ".+")) (not (contains "$" $repl)) }}
{{- $job = $repl }}
{{- else }}
{{- $job = "" }}{{/* set from a pattern: unknown here */}}
{{- end }}
{{- end }}
{{- end }}
{{- $job }}
{{- end }}

{{- define "bce.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default "bedrock-cost-exporter" .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- /* repository[:tag][@digest]; the tag defaults to the chart's appVersion unless a digest pins it. */ -}}
{{- define "bce.image" -}}
{{- $img := .Values.image }}
{{- if $img.digest }}
{{- if $img.tag }}{{ printf "%s:%s@%s" $img.repository $img.tag $img.digest }}{{ else }}{{ printf "%s@%s" $img.repository $img.digest }}{{ end }}
{{- else }}
{{- printf "%s:%s" $img.repository ($img.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{- /* The configuration file's volume source: the chart's ConfigMap, or existingConfig. */ -}}
{{- define "bce.configVolume" -}}
{{- $e := .Values.existingConfig }}
{{- if $e.secret }}
secret:
  secretName: {{ $e.secret }}
  items:
    - key: {{ $e.key }}
      path: config.toml
{{- else if $e.configMap }}
configMap:
  name: {{ $e.configMap }}
  items:
    - key: {{ $e.key }}
      path: config.toml
{{- else }}
configMap:
  name: {{ include "bce.fullname" . }}
{{- end }}
{{- end }}

{{- define "bce.usesExistingConfig" -}}
{{- if or .Values.existingConfig.secret .Values.existingConfig.configMap }}true{{ end }}
{{- end }}

{{- /* The web configuration's probe/test command: healthcheck speaking the web config file. */ -}}
{{- define "bce.webHealthcheckArgs" -}}
{{- $a := list "--web.config.file" "/etc/bedrock-cost-exporter-web/web-config.yml" }}
{{- if .Values.webConfig.probeUser }}
{{- $a = concat $a (list "--user" .Values.webConfig.probeUser "--password-file" (printf "/etc/bedrock-cost-exporter-web/%s" .Values.webConfig.probePasswordKey)) }}
{{- end }}
{{- toJson $a }}
{{- end }}

{{/* The name of everything the chart makes. */}}
{{- define "basalt.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else if contains "basalt" .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-basalt" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The headless Service of the peers. */}}
{{- define "basalt.peers" -}}
{{- include "basalt.fullname" . }}-peers
{{- end -}}

{{- define "basalt.selectorLabels" -}}
app.kubernetes.io/name: basalt
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "basalt.labels" -}}
{{ include "basalt.selectorLabels" . }}
app.kubernetes.io/version: {{ include "basalt.tag" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "basalt.tag" -}}
{{- .Values.image.tag | default .Chart.AppVersion -}}
{{- end -}}

{{- define "basalt.image" -}}
{{ .Values.image.repository }}:{{ include "basalt.tag" . }}
{{- end -}}

{{/* The environment pod-start, pod-init and pod-drain read (see deploy/image/bin/pod-env). */}}
{{- define "basalt.podEnv" -}}
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: BASALT_SERVICE
  value: {{ include "basalt.peers" . }}
- name: BASALT_CLUSTER_DOMAIN
  value: {{ .Values.clusterDomain | quote }}
- name: BASALT_PORT
  value: {{ .Values.ports.kv | quote }}
- name: BASALT_JOIN_SEEDS
  value: {{ min .Values.joinSeeds .Values.replicas | quote }}
- name: BASALT_JAVA_OPTS
  value: {{ .Values.javaOpts | quote }}
{{- if .Values.tls.enabled }}
- name: BASALT_CERTS_DIR
  value: /certs
{{- end }}
{{- end -}}

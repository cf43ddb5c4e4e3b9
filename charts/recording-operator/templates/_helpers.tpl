{{- define "recording-operator.name" -}}recording-operator{{- end -}}

{{- define "recording-operator.labels" -}}
app.kubernetes.io/name: recording-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "recording-operator.selector" -}}
app.kubernetes.io/name: recording-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

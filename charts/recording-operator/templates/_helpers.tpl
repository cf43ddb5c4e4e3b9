{{- define "recording-operator.name" -}}recording-operator{{- end -}}

{{/* On every object: the recommended labels and the user's commonLabels. */}}
{{- define "recording-operator.labels" -}}
app.kubernetes.io/name: recording-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: recording-operator
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "recording-operator.selector" -}}
app.kubernetes.io/name: recording-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* repository@digest when a digest is given, else repository:tag (tag defaulting to appVersion). Call with (list .Values.x.image .Chart.AppVersion). */}}
{{- define "recording-operator.image" -}}
{{- $image := index . 0 -}}
{{- if $image.digest -}}
{{ $image.repository }}@{{ $image.digest }}
{{- else -}}
{{ $image.repository }}:{{ $image.tag | default (index . 1) }}
{{- end -}}
{{- end -}}

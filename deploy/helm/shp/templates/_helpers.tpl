{{/*
The chart's name, or nameOverride: the app.kubernetes.io/name label.
*/}}
{{- define "shp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The objects' name: fullnameOverride, or the release's name with the chart's
name appended unless it already contains it; 63 characters at most (DNS
labels).
*/}}
{{- define "shp.fullname" -}}
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

{{/*
The helm.sh/chart label: name-version.
*/}}
{{- define "shp.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The selector labels: what the Deployment, the Service, the PodMonitoring and
the PodDisruptionBudget select the pods by. Never change them in an upgrade
(a Deployment's selector is immutable).
*/}}
{{- define "shp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "shp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The standard labels of every object (app.kubernetes.io/*).
*/}}
{{- define "shp.labels" -}}
helm.sh/chart: {{ include "shp.chart" . }}
{{ include "shp.selectorLabels" . }}
app.kubernetes.io/version: {{ include "shp.tag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/component: server
app.kubernetes.io/part-of: shp
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
The Kubernetes service account's name.
*/}}
{{- define "shp.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "shp.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name: name the existing service account when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The shp image's tag: image.tag, or the chart's appVersion.
*/}}
{{- define "shp.tag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{/*
The shp image: repository:tag, with @digest when one is given.
*/}}
{{- define "shp.image" -}}
{{- $repo := required "image.repository: set the shp image's repository, such as europe-west1-docker.pkg.dev/PROJECT/shp/shp (make image; docker push)" .Values.image.repository }}
{{- $tag := include "shp.tag" . }}
{{- if eq $tag "latest" }}
{{- fail "image.tag: latest is not allowed; name the build (a git describe tag such as v1.2.3)" }}
{{- end }}
{{- printf "%s:%s" $repo $tag }}
{{- with .Values.image.digest }}@{{ . }}{{ end }}
{{- end }}

{{/*
The ConfigMap key of a project file: its path with "/" as "__" (keys cannot
hold "/").
*/}}
{{- define "shp.projectKey" -}}
{{- replace "/" "__" . }}
{{- end }}

{{/*
The project's .shp folder (writable, an emptyDir).
*/}}
{{- define "shp.stateDir" -}}
{{- printf "%s/.shp" (trimSuffix "/" .Values.serve.config) }}
{{- end }}

{{/*
The container security context every container gets: no privilege
escalation, a read-only root file system, no capabilities, the runtime's
seccomp profile, a non-root user.
*/}}
{{- define "shp.containerSecurityContext" -}}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

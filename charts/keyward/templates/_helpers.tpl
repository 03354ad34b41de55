{{/* The chart's name, or nameOverride. */}}
{{- define "keyward.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: fullnameOverride, else the release name when it contains the
chart's name, else RELEASE-CHART. */}}
{{- define "keyward.fullname" -}}
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

{{/* The name of cluster-scoped objects: the full name in a cluster-wide install; with the
release namespace in a namespaced one, so that one release per namespace can coexist. */}}
{{- define "keyward.clusterName" -}}
{{- $settings := include "keyward.settings" . | fromJson }}
{{- if eq $settings.scope "namespace" }}
{{- printf "%s-%s" (include "keyward.fullname" .) .Release.Namespace }}
{{- else }}
{{- include "keyward.fullname" . }}
{{- end }}
{{- end }}

{{/* The labels the pods are selected by. */}}
{{- define "keyward.selectorLabels" -}}
app.kubernetes.io/name: {{ include "keyward.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The labels of every object (and ESO's commonLabels). */}}
{{- define "keyward.labels" -}}
{{ include "keyward.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "keyward.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "keyward.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The namespace a namespaced install watches. */}}
{{- define "keyward.watchNamespace" -}}
{{- (include "keyward.settings" . | fromJson).watch }}
{{- end }}

{{/* The ServiceAccount as an RBAC subject. */}}
{{- define "keyward.subject" -}}
- kind: ServiceAccount
  name: {{ include "keyward.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
{{- end }}

{{/*
What the chart renders, from keyward's values and from the values of External Secrets
Operator's chart (external-secrets/external-secrets 0.16.x) that a values file written for it
may hold (README.md, "Coming from ESO's chart"), as JSON: `include "keyward.settings" . |
fromJson`. Where ESO's key differs from keyward's, keyward's wins when it is set to other than
its default. `warnings` lists what keyward cannot honour, for NOTES.txt.
*/}}
{{- define "keyward.settings" -}}
{{- $v := .Values }}
{{- $warnings := list }}

{{- /* extraArgs: keyward's list is passed as it is; ESO's map of flag to value is
translated: keyward's own `operator run` flags that the chart does not set are passed
(--flag=value, or --flag for an empty value); the ESO flags the chart maps (concurrent,
controller-class, namespace, enable-leader-election) override their values as they did in
ESO's chart; every other flag is left out, since `keyward operator run` refuses a flag it
does not know. */}}
{{- $args := list }}
{{- $eso := dict }}
{{- $leftOut := list }}
{{- if kindIs "map" $v.extraArgs }}
{{- $passed := list "restart-debounce" "restarts-per-minute" "restart-burst" "audit-log" "state-dir" }}
{{- $switches := list "audit-stdout" }}
{{- $mapped := list "concurrent" "controller-class" "namespace" "enable-leader-election" "leader-elect" }}
{{- range $key, $value := $v.extraArgs }}
{{- $flag := trimPrefix "-" (trimPrefix "-" $key) }}
{{- $empty := or (kindIs "invalid" $value) (eq (toString $value) "") }}
{{- if has $flag $passed }}
{{- $args = append $args (ternary (printf "--%s" $flag) (printf "--%s=%v" $flag $value) $empty) }}
{{- else if has $flag $switches }}
{{- if or $empty (eq (toString $value) "true") }}
{{- $args = append $args (printf "--%s" $flag) }}
{{- end }}
{{- else if has $flag $mapped }}
{{- $_ := set $eso (ternary "enable-leader-election" $flag (eq $flag "leader-elect")) (ternary "" (toString $value) $empty) }}
{{- else }}
{{- $leftOut = append $leftOut $flag }}
{{- end }}
{{- end }}
{{- else }}
{{- $args = $v.extraArgs | default list }}
{{- end }}
{{- with $leftOut }}
{{- $warnings = append $warnings (printf "extraArgs: %s left out (ESO's flags that `keyward operator run` does not have, or that the chart sets from its values)" (join ", " .)) }}
{{- end }}

{{- /* Replicas and leader election: ESO's leaderElect (or its flag) turns the election off
only for a single replica; keyward never runs several replicas without a leader. */}}
{{- $replicas := int $v.replicaCount }}
{{- $esoLeader := "" }}
{{- if kindIs "bool" $v.leaderElect }}
{{- $esoLeader = toString $v.leaderElect }}
{{- end }}
{{- if hasKey $eso "enable-leader-election" }}
{{- $esoLeader = ternary "false" "true" (eq (get $eso "enable-leader-election") "false") }}
{{- end }}
{{- $leader := $v.leaderElection.enabled }}
{{- if and $leader (eq $esoLeader "false") }}
{{- if gt $replicas 1 }}
{{- $warnings = append $warnings (printf "leaderElect: false ignored: keyward elects a leader whenever it runs more than one replica (replicaCount: %d)" $replicas) }}
{{- else }}
{{- $leader = false }}
{{- end }}
{{- end }}

{{- $concurrent := int (get $eso "concurrent" | default $v.concurrent) }}
{{- $controllerClass := get $eso "controller-class" | default $v.controllerClass | default "default" }}

{{- /* CRDs: keyward's crds.create and ESO's installCRDs; either false installs none. */}}
{{- $crds := and $v.crds.create (ne (toString $v.installCRDs) "false") }}

{{- /* Scope: keyward's rbac.scope and watchNamespace; ESO's scopedNamespace (or its
namespace flag) with scopedRBAC is a namespaced install; scopedNamespace alone watches that
namespace with the cluster-wide RBAC, as in ESO's chart. */}}
{{- $esoNamespace := get $eso "namespace" | default $v.scopedNamespace | default "" }}
{{- $scope := $v.rbac.scope }}
{{- if and (eq $scope "cluster") $esoNamespace $v.scopedRBAC }}
{{- $scope = "namespace" }}
{{- end }}
{{- $watch := "" }}
{{- if eq $scope "namespace" }}
{{- $watch = $v.watchNamespace | default $esoNamespace | default .Release.Namespace }}
{{- else }}
{{- $watch = $esoNamespace }}
{{- end }}

{{- /* The image: ESO's (a repository whose last component is external-secrets) is never
run; keyward's default takes its place. The literal is values.yaml's default. */}}
{{- $image := dict "repository" $v.image.repository "tag" ($v.image.tag | default .Chart.AppVersion) "pullPolicy" $v.image.pullPolicy }}
{{- if regexMatch "(^|/)external-secrets$" $v.image.repository }}
{{- $warnings = append $warnings (printf "image: External Secrets Operator's image (%s%s) ignored: keyward runs its own image, %s:%s here; set image.repository and image.tag" $v.image.repository (ternary "" (printf ":%s" (toString $v.image.tag)) (empty $v.image.tag)) "keyward" .Chart.AppVersion) }}
{{- $_ := set $image "repository" "keyward" }}
{{- $_ := set $image "tag" .Chart.AppVersion }}
{{- end }}

{{- /* Logs: ESO's log.level when logLevel is keyward's default. */}}
{{- $logLevel := $v.logLevel }}
{{- $esoLevel := dig "level" "" ($v.log | default dict) }}
{{- if and (eq $logLevel "info") $esoLevel }}
{{- $logLevel = get (dict "debug" "debug" "info" "info" "warn" "warn" "error" "error" "dpanic" "error" "panic" "error" "fatal" "error") $esoLevel | default $logLevel }}
{{- end }}

{{- /* Metrics: keyward's one port for the container and the Service when it is not the
default; else ESO's metrics.listen.port and metrics.service.port. */}}
{{- $port := int $v.metrics.port }}
{{- $servicePort := $port }}
{{- if eq $port 8080 }}
{{- $port = int (dig "listen" "port" 8080 $v.metrics) }}
{{- $servicePort = int (dig "service" "port" $port $v.metrics) }}
{{- end }}

{{- /* ESO's values keyward accepts but does not honour: listed when they ask for
something keyward does not do (a value other than those given here). */}}
{{- $unhonoured := list
  (list "bitwarden-sdk-server.enabled" (list false) "keyward does not run the Bitwarden SDK server")
  (list "namespaceOverride" (list "") "keyward installs into the release namespace (helm --namespace)")
  (list "createOperator" (list true) "the operator is what this chart installs")
  (list "processClusterExternalSecret" (list true) "keyward always runs ClusterExternalSecrets (in a cluster-wide install)")
  (list "processClusterPushSecret" (list true) "keyward has no switch for ClusterPushSecrets")
  (list "processClusterStore" (list true) "keyward always serves ClusterSecretStores")
  (list "processPushSecret" (list true) "keyward always serves PushSecrets")
  (list "extendedMetricLabels" (list false) "keyward's metrics carry ESO's default labels")
  (list "crds.createClusterExternalSecret" (list true) "keyward installs all its CRDs or none (crds.create)")
  (list "crds.createClusterSecretStore" (list true) "keyward installs all its CRDs or none (crds.create)")
  (list "crds.createSecretStore" (list true) "keyward installs all its CRDs or none (crds.create)")
  (list "crds.createClusterGenerator" (list true) "keyward installs all its CRDs or none (crds.create)")
  (list "crds.createClusterPushSecret" (list true) "keyward installs all its CRDs or none (crds.create)")
  (list "crds.createPushSecret" (list true) "keyward installs all its CRDs or none (crds.create)")
  (list "crds.conversion.enabled" (list false) "keyward's CRDs serve v1 only, without a conversion webhook")
  (list "log.timeEncoding" (list "epoch") "keyward's log format is logFormat's")
  (list "rbac.servicebindings.create" (list false) "no servicebinding.io ClusterRole is created")
  (list "rbac.aggregateToView" (list false) "no ClusterRole is aggregated to view")
  (list "rbac.aggregateToEdit" (list false) "no ClusterRole is aggregated to edit")
  (list "serviceAccount.automount" (list true) "keyward reads the API with its ServiceAccount's token")
  (list "image.flavour" (list "") "keyward's image has no flavours")
  (list "podSpecExtra" (list dict) "not merged into keyward's pod")
  (list "global.compatibility.openshift.adaptSecurityContext" (list "auto" "disabled") "keyward does not adapt its security context to OpenShift")
}}
{{- range $unhonoured }}
{{- $path := splitList "." (index . 0) }}
{{- $value := $v }}
{{- $found := true }}
{{- range $path }}
{{- if and $found (kindIs "map" $value) (hasKey $value .) }}
{{- $value = index $value . }}
{{- else }}
{{- $found = false }}
{{- end }}
{{- end }}
{{- if $found }}
{{- $neutral := list }}
{{- range index . 1 }}
{{- $neutral = append $neutral (toJson .) }}
{{- end }}
{{- if not (has (toJson $value) $neutral) }}
{{- $warnings = append $warnings (printf "%s: %s ignored: %s" (index . 0) (toJson $value) (index . 2)) }}
{{- end }}
{{- end }}
{{- end }}
{{- $absent := list }}
{{- range list "webhook" "certController" }}
{{- if hasKey $v . }}
{{- $absent = append $absent . }}
{{- end }}
{{- end }}
{{- with $absent }}
{{- $warnings = append $warnings (printf "%s: ignored: ESO's admission webhook and its certificate controller; keyward runs neither (it has no webhook: the CRDs' schemas are what the API server checks)" (join ", " .)) }}
{{- end }}

{{- toJson (dict
  "args" $args
  "replicas" $replicas
  "leader" $leader
  "concurrent" $concurrent
  "controllerClass" $controllerClass
  "crds" $crds
  "scope" $scope
  "watch" $watch
  "image" $image
  "logLevel" $logLevel
  "port" $port
  "servicePort" $servicePort
  "warnings" $warnings
) }}
{{- end }}

{{/*
Helpers of the Kinship chart. files/registry.json is generated from the code
(deploy/helm/generate.py): topics, each service's consumers, produced topics, ACL lists,
ports, graceful timeouts and secret settings. Templates never type topic names.
*/}}

{{- define "kinship.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kinship.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The generated registry (topics, services). */}}
{{- define "kinship.registry" -}}
{{- .Files.Get "files/registry.json" -}}
{{- end -}}

{{/* Labels of every resource. */}}
{{- define "kinship.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "kinship.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kinship
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one service's pods: (dict "root" $ "service" name "component" c) */}}
{{- define "kinship.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kinship.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component | default "server" }}
kinship.io/service: {{ .service }}
{{- end -}}

{{/* All labels of one service's resources: (dict "root" $ "service" name "component" c) */}}
{{- define "kinship.serviceLabels" -}}
{{ include "kinship.labels" .root }}
app.kubernetes.io/component: {{ .component | default "server" }}
kinship.io/service: {{ .service }}
{{- end -}}

{{/* Resource name of a service's objects. */}}
{{- define "kinship.serviceName" -}}
{{- printf "%s-%s" (include "kinship.fullname" .root) .service -}}
{{- end -}}

{{/*
One service's values: serviceDefaults overridden key by key by services.<name>.
(dict "root" $ "service" name) -> YAML
*/}}
{{- define "kinship.serviceValues" -}}
{{- $own := index .root.Values.services .service | default dict -}}
{{- toYaml (mergeOverwrite (deepCopy .root.Values.serviceDefaults) (deepCopy $own)) -}}
{{- end -}}

{{- define "kinship.image" -}}
{{- $image := .svc.image -}}
{{- $repository := printf "%s%s" (.root.Values.image.registry | default "") $image.repository -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository ($image.tag | default .root.Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/* --- Kafka -------------------------------------------------------------------------- */}}

{{- define "kinship.kafkaNamespace" -}}
{{- .Values.kafka.namespace | default .Release.Namespace -}}
{{- end -}}

{{- define "kinship.kafkaBootstrap" -}}
{{- if .Values.kafka.bootstrapServers -}}
{{- .Values.kafka.bootstrapServers -}}
{{- else -}}
{{- printf "%s-kafka-bootstrap.%s.svc:%d" .Values.kafka.clusterName (include "kinship.kafkaNamespace" .) (int .Values.kafka.port) -}}
{{- end -}}
{{- end -}}

{{- define "kinship.kafkaCaSecret" -}}
{{- .Values.kafka.clusterCaSecret | default (printf "%s-cluster-ca-cert" .Values.kafka.clusterName) -}}
{{- end -}}

{{/* The KafkaUser (and so the Kafka principal and Strimzi's Secret) of a service. */}}
{{- define "kinship.kafkaUser" -}}
{{- include "kinship.serviceName" . -}}
{{- end -}}

{{- define "kinship.kafkaAuth" -}}
{{- $auth := .Values.kafka.authentication -}}
{{- if not (has $auth (list "tls" "scram-sha-512" "none")) -}}
{{- fail (printf "kafka.authentication must be tls, scram-sha-512 or none, not %q" $auth) -}}
{{- end -}}
{{- if and (eq $auth "tls") (not .Values.kafka.tls) -}}
{{- fail "kafka.authentication=tls needs a TLS listener (kafka.tls=true)" -}}
{{- end -}}
{{- $auth -}}
{{- end -}}

{{- define "kinship.kafkaSecurityProtocol" -}}
{{- $auth := include "kinship.kafkaAuth" . -}}
{{- if eq $auth "scram-sha-512" -}}
{{- ternary "SASL_SSL" "SASL_PLAINTEXT" .Values.kafka.tls -}}
{{- else -}}
{{- ternary "SSL" "PLAINTEXT" .Values.kafka.tls -}}
{{- end -}}
{{- end -}}

{{/* A registry topic's physical name. (dict "root" $ "topic" name) */}}
{{- define "kinship.topic" -}}
{{- printf "%s%s" (.root.Values.config.topicPrefix | default "") .topic -}}
{{- end -}}

{{/* A consumer group id: <prefix>.<service>.<purpose>, as settings.consumer_group(). */}}
{{- define "kinship.group" -}}
{{- printf "%s.%s.%s" .root.Values.config.consumerGroupPrefix .service .purpose -}}
{{- end -}}

{{/* --- configuration ------------------------------------------------------------------ */}}

{{- define "kinship.gracefulTimeout" -}}
{{- $registry := include "kinship.registry" .root | fromJson -}}
{{- $code := (index $registry.services .service).gracefulTimeoutSeconds -}}
{{- if kindIs "invalid" .root.Values.config.gracefulTimeoutSeconds -}}
{{- $code | int -}}
{{- else -}}
{{- .root.Values.config.gracefulTimeoutSeconds | int -}}
{{- end -}}
{{- end -}}

{{/*
terminationGracePeriodSeconds: the graceful timeout, the outbox flush, the preStop sleep and
10 s of margin; always more than the service's graceful timeout.
*/}}
{{- define "kinship.terminationGrace" -}}
{{- $graceful := include "kinship.gracefulTimeout" . | int -}}
{{- $total := add $graceful (.root.Values.config.outboxFlushSeconds | int) (.root.Values.config.preStopSleepSeconds | int) 10 -}}
{{- if le (int $total) $graceful -}}
{{- fail "terminationGracePeriodSeconds must exceed config.gracefulTimeoutSeconds" -}}
{{- end -}}
{{- $total -}}
{{- end -}}

{{/*
Settings the chart owns; services.<name>.env and config.env may not set them.
*/}}
{{- define "kinship.managedEnv" -}}
{{- list "KINSHIP_SERVICE_NAME" "KINSHIP_HTTP_HOST" "KINSHIP_HTTP_PORT" "KINSHIP_DATABASE_SCHEMA" "KINSHIP_DATABASE_URL" "KINSHIP_KAFKA_BOOTSTRAP_SERVERS" "KINSHIP_KAFKA_SECURITY_PROTOCOL" "KINSHIP_KAFKA_SASL_MECHANISM" "KINSHIP_KAFKA_SASL_USERNAME" "KINSHIP_KAFKA_SASL_PASSWORD" "KINSHIP_KAFKA_SSL_CAFILE" "KINSHIP_KAFKA_SSL_CERTFILE" "KINSHIP_KAFKA_SSL_KEYFILE" "KINSHIP_TOPIC_PREFIX" "KINSHIP_CONSUMER_GROUP_PREFIX" "KINSHIP_CREATE_TOPICS" "KINSHIP_MIGRATE_ON_START" "KINSHIP_GRACEFUL_TIMEOUT_SECONDS" | toJson -}}
{{- end -}}

{{/*
The plain (non-secret) settings of one service, as a ConfigMap's data and the migration
Job's env. (dict "root" $ "service" name) -> YAML map
*/}}
{{- define "kinship.configData" -}}
{{- $root := .root -}}
{{- $values := $root.Values -}}
{{- $registry := include "kinship.registry" $root | fromJson -}}
{{- $entry := index $registry.services .service -}}
{{- $svc := include "kinship.serviceValues" . | fromYaml -}}
{{- $auth := include "kinship.kafkaAuth" $root -}}
{{- $data := dict -}}
{{- $managed := include "kinship.managedEnv" $root | fromJsonArray -}}
{{- range $source := list ($values.config.env | default dict) ($svc.env | default dict) -}}
{{- range $key, $value := $source -}}
{{- if has $key $managed -}}
{{- fail (printf "%s is set by the chart; remove it from config.env / services.*.env" $key) -}}
{{- end -}}
{{- if not (kindIs "invalid" $value) -}}
{{- if ne (toString $value) "" -}}
{{- $_ := set $data $key (toString $value) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $_ := set $data "KINSHIP_SERVICE_NAME" .service -}}
{{- $_ := set $data "KINSHIP_HTTP_HOST" "0.0.0.0" -}}
{{- $_ := set $data "KINSHIP_HTTP_PORT" (toString (int $entry.httpPort)) -}}
{{- $_ := set $data "KINSHIP_DATABASE_SCHEMA" .service -}}
{{- $_ := set $data "KINSHIP_LOG_LEVEL" (toString $values.config.logLevel) -}}
{{- $_ := set $data "KINSHIP_GRACEFUL_TIMEOUT_SECONDS" (include "kinship.gracefulTimeout" .) -}}
{{- $_ := set $data "KINSHIP_TOPIC_PREFIX" ($values.config.topicPrefix | default "") -}}
{{- $_ := set $data "KINSHIP_CONSUMER_GROUP_PREFIX" $values.config.consumerGroupPrefix -}}
{{- /* Topics are Strimzi's; a service creates missing ones only without Strimzi topics and
     without ACLs (a KafkaUser may not create topics). */ -}}
{{- $selfCreate := and (not $values.strimzi.topics.enabled) (eq $auth "none") -}}
{{- $_ := set $data "KINSHIP_CREATE_TOPICS" (ternary "true" "false" $selfCreate) -}}
{{- $_ := set $data "KINSHIP_MIGRATE_ON_START" (ternary "false" "true" $values.migrations.enabled) -}}
{{- $_ := set $data "KINSHIP_JWT_AUDIENCE" $values.config.jwtAudience -}}
{{- with $values.config.jwtIssuer }}{{ $_ := set $data "KINSHIP_JWT_ISSUER" . }}{{ end -}}
{{- with $values.config.jwtPublicKey }}{{ $_ := set $data "KINSHIP_JWT_PUBLIC_KEY" . }}{{ end -}}
{{- $_ := set $data "KINSHIP_KAFKA_BOOTSTRAP_SERVERS" (include "kinship.kafkaBootstrap" $root) -}}
{{- $_ := set $data "KINSHIP_KAFKA_SECURITY_PROTOCOL" (include "kinship.kafkaSecurityProtocol" $root) -}}
{{- if $values.kafka.tls -}}
{{- $_ := set $data "KINSHIP_KAFKA_SSL_CAFILE" "/etc/kinship/kafka/ca/ca.crt" -}}
{{- end -}}
{{- if eq $auth "tls" -}}
{{- $_ := set $data "KINSHIP_KAFKA_SSL_CERTFILE" "/etc/kinship/kafka/user/user.crt" -}}
{{- $_ := set $data "KINSHIP_KAFKA_SSL_KEYFILE" "/etc/kinship/kafka/user/user.key" -}}
{{- else if eq $auth "scram-sha-512" -}}
{{- $_ := set $data "KINSHIP_KAFKA_SASL_MECHANISM" "SCRAM-SHA-512" -}}
{{- $_ := set $data "KINSHIP_KAFKA_SASL_USERNAME" (include "kinship.kafkaUser" .) -}}
{{- end -}}
{{- $_ := set $data "OTEL_SERVICE_NAME" (printf "kinship-%s" .service) -}}
{{- if $values.telemetry.enabled -}}
{{- $_ := set $data "OTEL_TRACES_EXPORTER" "otlp" -}}
{{- $_ := set $data "OTEL_METRICS_EXPORTER" "otlp" -}}
{{- $_ := set $data "OTEL_EXPORTER_OTLP_ENDPOINT" $values.telemetry.endpoint -}}
{{- with $values.telemetry.resourceAttributes }}{{ $_ := set $data "OTEL_RESOURCE_ATTRIBUTES" . }}{{ end -}}
{{- else -}}
{{- $_ := set $data "OTEL_TRACES_EXPORTER" "none" -}}
{{- $_ := set $data "OTEL_METRICS_EXPORTER" "none" -}}
{{- end -}}
{{- toYaml $data -}}
{{- end -}}

{{/* --- secrets ------------------------------------------------------------------------ */}}

{{- define "kinship.sharedSecretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-shared-secrets" (include "kinship.fullname" .)) -}}
{{- end -}}

{{- define "kinship.serviceSecretName" -}}
{{- $svc := include "kinship.serviceValues" . | fromYaml -}}
{{- $svc.secrets.existingSecret | default (printf "%s-secrets" (include "kinship.serviceName" .)) -}}
{{- end -}}

{{- define "kinship.migrationSecretName" -}}
{{- printf "%s-migrations" (include "kinship.serviceName" .) -}}
{{- end -}}

{{/*
Secret values given in values.yaml, checked against the registry's secret settings.
(dict "root" $ "scope" "shared"|service) -> YAML map of the non-empty ones
*/}}
{{- define "kinship.secretValues" -}}
{{- $registry := include "kinship.registry" .root | fromJson -}}
{{- $known := list -}}
{{- $values := dict -}}
{{- if eq .scope "shared" -}}
{{- range $registry.sharedSecrets }}{{ $known = append $known .env }}{{ end -}}
{{- $values = .root.Values.secrets.values | default dict -}}
{{- else -}}
{{- $known = list "KINSHIP_MIGRATIONS_DATABASE_URL" -}}
{{- range (index $registry.services .scope).secrets }}{{ $known = append $known .env }}{{ end -}}
{{- $svc := include "kinship.serviceValues" (dict "root" .root "service" .scope) | fromYaml -}}
{{- $values = $svc.secrets.values | default dict -}}
{{- end -}}
{{- $given := dict -}}
{{- range $key, $value := $values -}}
{{- if not (has $key $known) -}}
{{- fail (printf "secret %q is not a secret setting here (known: %s)" $key (join ", " $known)) -}}
{{- end -}}
{{- if and (not (kindIs "invalid" $value)) (ne (toString $value) "") -}}
{{- $_ := set $given $key (toString $value) -}}
{{- end -}}
{{- end -}}
{{- toYaml $given -}}
{{- end -}}

{{/*
Secret env of a service's containers, from secretKeyRefs. Required settings are not
optional: a missing key stops the pod with a clear event rather than starting it half set.
(dict "root" $ "service" name "migration" bool)
*/}}
{{- define "kinship.secretEnv" -}}
{{- $root := .root -}}
{{- $registry := include "kinship.registry" $root | fromJson -}}
{{- $entry := index $registry.services .service -}}
{{- $svc := include "kinship.serviceValues" . | fromYaml -}}
{{- $shared := include "kinship.sharedSecretName" $root -}}
{{- $own := include "kinship.serviceSecretName" . -}}
{{- if .migration -}}
{{- if not $root.Values.secrets.existingSecret }}{{ $shared = include "kinship.migrationSecretName" . }}{{ end -}}
{{- if not $svc.secrets.existingSecret }}{{ $own = include "kinship.migrationSecretName" . }}{{ end -}}
{{- end -}}
{{- range $registry.sharedSecrets }}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ $shared }}
      key: {{ .env }}
      optional: {{ not .required }}
{{- end }}
{{- range $entry.secrets }}
{{- $key := .env -}}
{{- if and $.migration (eq .env "KINSHIP_DATABASE_URL") -}}
{{- $key = include "kinship.migrationDatabaseUrlKey" $ -}}
{{- end }}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ $own }}
      key: {{ $key }}
      optional: {{ not .required }}
{{- end }}
{{- if and (not .migration) (eq (include "kinship.kafkaAuth" $root) "scram-sha-512") }}
- name: KINSHIP_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "kinship.kafkaUser" . }}
      key: password
{{- end }}
{{- end -}}

{{/* The key of the service Secret the migration Job reads its database URL from. */}}
{{- define "kinship.migrationDatabaseUrlKey" -}}
{{- $svc := include "kinship.serviceValues" . | fromYaml -}}
{{- if $svc.secrets.migrationsDatabaseUrlKey -}}
{{- $svc.secrets.migrationsDatabaseUrlKey -}}
{{- else if and (not $svc.secrets.existingSecret) (($svc.secrets.values | default dict).KINSHIP_MIGRATIONS_DATABASE_URL) -}}
KINSHIP_MIGRATIONS_DATABASE_URL
{{- else -}}
KINSHIP_DATABASE_URL
{{- end -}}
{{- end -}}

{{/*
What a real install lacks: required secret values (when the chart creates the Secrets) and
required plain settings. -> JSON list of messages
*/}}
{{- define "kinship.missing" -}}
{{- $root := . -}}
{{- $registry := include "kinship.registry" $root | fromJson -}}
{{- $missing := list -}}
{{- if not $root.Values.secrets.existingSecret -}}
{{- $given := include "kinship.secretValues" (dict "root" $root "scope" "shared") | fromYaml -}}
{{- range $registry.sharedSecrets -}}
{{- if and .required (not (hasKey $given .env)) -}}
{{- $missing = append $missing (printf "secrets.values.%s (or secrets.existingSecret)" .env) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $name, $entry := $registry.services -}}
{{- $ctx := dict "root" $root "service" $name -}}
{{- $svc := include "kinship.serviceValues" $ctx | fromYaml -}}
{{- if not $svc.secrets.existingSecret -}}
{{- $given := include "kinship.secretValues" (dict "root" $root "scope" $name) | fromYaml -}}
{{- range $entry.secrets -}}
{{- if and .required (not (hasKey $given .env)) -}}
{{- $missing = append $missing (printf "services.%s.secrets.values.%s (or services.%s.secrets.existingSecret)" $name .env $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $config := include "kinship.configData" $ctx | fromYaml -}}
{{- range $entry.requiredConfig -}}
{{- if not (hasKey $config .) -}}
{{- $missing = append $missing (printf "services.%s.env.%s" $name .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toJson $missing -}}
{{- end -}}

{{/*
Fails a real install (or upgrade) that lacks required settings. Offline renders (helm
template, helm lint, --dry-run=client) cannot see the cluster, render anyway and list what
is missing in NOTES.txt.
*/}}
{{- define "kinship.validate" -}}
{{- $missing := include "kinship.missing" . | fromJsonArray -}}
{{- if $missing -}}
{{- $cluster := lookup "v1" "ConfigMap" .Release.Namespace "kube-root-ca.crt" -}}
{{- if $cluster -}}
{{- fail (printf "\n\nKinship cannot start without: %s\n(docs/kubernetes.md, Secrets)" (join ", " $missing)) -}}
{{- end -}}
{{- end -}}
{{- end -}}

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

{{/* The generated registry (topics, services, the console). */}}
{{- define "kinship.registry" -}}
{{- .Files.Get "files/registry.json" -}}
{{- end -}}

{{/*
The workloads the chart runs: the four services (Kafka) and, when console.enabled, the
console (no Kafka). -> JSON map name -> registry entry
*/}}
{{- define "kinship.workloads" -}}
{{- $registry := include "kinship.registry" . | fromJson -}}
{{- $workloads := deepCopy $registry.services -}}
{{- if .Values.console.enabled -}}
{{- $_ := set $workloads "console" $registry.console -}}
{{- end -}}
{{- toJson $workloads -}}
{{- end -}}

{{/* One workload's registry entry. (dict "root" $ "service" name) -> JSON */}}
{{- define "kinship.entry" -}}
{{- $registry := include "kinship.registry" .root | fromJson -}}
{{- if eq .service "console" -}}
{{- toJson $registry.console -}}
{{- else -}}
{{- toJson (index $registry.services .service) -}}
{{- end -}}
{{- end -}}

{{/* The services that ask the check-in service's vault (they read KINSHIP_CHECKIN_API_KEY). */}}
{{- define "kinship.vaultClients" -}}
{{- $registry := include "kinship.registry" . | fromJson -}}
{{- $clients := list -}}
{{- range $name, $entry := $registry.services -}}
{{- if $entry.vaultScopes }}{{ $clients = append $clients $name }}{{ end -}}
{{- end -}}
{{- toJson $clients -}}
{{- end -}}

{{/* The in-cluster URL of a service: (dict "root" $ "service" name) */}}
{{- define "kinship.serviceUrl" -}}
{{- $entry := include "kinship.entry" . | fromJson -}}
{{- printf "http://%s:%d" (include "kinship.serviceName" .) (int $entry.httpPort) -}}
{{- end -}}

{{/* The URL people open the console at: config.consoleUrl, else https://<console ingress host>. */}}
{{- define "kinship.consoleUrl" -}}
{{- if .Values.config.consoleUrl -}}
{{- .Values.config.consoleUrl | trimSuffix "/" -}}
{{- else if and .Values.console.enabled .Values.console.ingress.enabled .Values.console.ingress.host -}}
{{- printf "https://%s" .Values.console.ingress.host -}}
{{- end -}}
{{- end -}}

{{/* The console's OIDC issuer: console.oidc.issuer, else config.oidcIssuer. */}}
{{- define "kinship.consoleIssuer" -}}
{{- .Values.console.oidc.issuer | default .Values.config.oidcIssuer | default "" -}}
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
One workload's values: serviceDefaults overridden key by key by services.<name> (or by
console). (dict "root" $ "service" name) -> YAML
*/}}
{{- define "kinship.serviceValues" -}}
{{- $own := dict -}}
{{- if eq .service "console" -}}
{{- $own = omit .root.Values.console "enabled" "oidc" "ingress" -}}
{{- else -}}
{{- $own = index .root.Values.services .service | default dict -}}
{{- end -}}
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
terminationGracePeriodSeconds. A service: its graceful timeout, the outbox flush, the preStop
sleep and 10 s of margin; always more than the service's graceful timeout. The console (no
consumers, no outbox): the preStop sleep and 30 s for uvicorn to finish open requests (each
waits at most KINSHIP_CONSOLE_API_TIMEOUT_SECONDS per call).
*/}}
{{- define "kinship.terminationGrace" -}}
{{- if eq .service "console" -}}
{{- add (.root.Values.config.preStopSleepSeconds | int) 30 -}}
{{- else -}}
{{- $graceful := include "kinship.gracefulTimeout" . | int -}}
{{- $total := add $graceful (.root.Values.config.outboxFlushSeconds | int) (.root.Values.config.preStopSleepSeconds | int) 10 -}}
{{- if le (int $total) $graceful -}}
{{- fail "terminationGracePeriodSeconds must exceed config.gracefulTimeoutSeconds" -}}
{{- end -}}
{{- $total -}}
{{- end -}}
{{- end -}}

{{/*
Settings the chart owns; services.<name>.env, config.env and console.env may not set them.
(dict "root" $ "service" name) -> JSON list
*/}}
{{- define "kinship.managedEnv" -}}
{{- if eq .service "console" -}}
{{- list "KINSHIP_SERVICE_NAME" "KINSHIP_HTTP_HOST" "KINSHIP_HTTP_PORT" "KINSHIP_DATABASE_SCHEMA" "KINSHIP_DATABASE_URL" "KINSHIP_MIGRATE_ON_START" "KINSHIP_CONSOLE_PUBLIC_URL" "KINSHIP_CONSOLE_OIDC_ISSUER" "KINSHIP_CONSOLE_OIDC_DISCOVERY_URL" "KINSHIP_CONSOLE_OIDC_CLIENT_ID" "KINSHIP_CONSOLE_CHECKIN_URL" "KINSHIP_CONSOLE_ESCALATION_URL" "KINSHIP_CONSOLE_NOTIFICATIONS_URL" "KINSHIP_CONSOLE_RECOGNITION_URL" | toJson -}}
{{- else -}}
{{- list "KINSHIP_SERVICE_NAME" "KINSHIP_HTTP_HOST" "KINSHIP_HTTP_PORT" "KINSHIP_DATABASE_SCHEMA" "KINSHIP_DATABASE_URL" "KINSHIP_KAFKA_BOOTSTRAP_SERVERS" "KINSHIP_KAFKA_SECURITY_PROTOCOL" "KINSHIP_KAFKA_SASL_MECHANISM" "KINSHIP_KAFKA_SASL_USERNAME" "KINSHIP_KAFKA_SASL_PASSWORD" "KINSHIP_KAFKA_SSL_CAFILE" "KINSHIP_KAFKA_SSL_CERTFILE" "KINSHIP_KAFKA_SSL_KEYFILE" "KINSHIP_TOPIC_PREFIX" "KINSHIP_CONSUMER_GROUP_PREFIX" "KINSHIP_CREATE_TOPICS" "KINSHIP_MIGRATE_ON_START" "KINSHIP_GRACEFUL_TIMEOUT_SECONDS" "KINSHIP_JWT_AUDIENCE" "KINSHIP_JWT_ISSUER" "KINSHIP_JWT_PUBLIC_KEY" "KINSHIP_JWT_JWKS_URL" "KINSHIP_JWT_PERSON_CLAIM" "KINSHIP_OIDC_ISSUER" "KINSHIP_CHECKIN_URL" "KINSHIP_CONSOLE_URL" "KINSHIP_EXCLUDED_CONSUMERS" | toJson -}}
{{- end -}}
{{- end -}}

{{/*
Plain settings from values (config.env, then services.<name>.env or console.env), checked:
not one the chart owns, not a secret, and a KINSHIP_* name must be a setting of the workload
(from its settings class, so a misspelt name fails instead of being ignored).
(dict "root" $ "service" name) -> YAML map of the non-empty ones
*/}}
{{- define "kinship.envValues" -}}
{{- $root := .root -}}
{{- $service := .service -}}
{{- $registry := include "kinship.registry" $root | fromJson -}}
{{- $entry := include "kinship.entry" . | fromJson -}}
{{- $svc := include "kinship.serviceValues" . | fromYaml -}}
{{- $managed := include "kinship.managedEnv" . | fromJsonArray -}}
{{- $secrets := list "KINSHIP_MIGRATIONS_DATABASE_URL" -}}
{{- range $registry.sharedSecrets }}{{ $secrets = append $secrets .env }}{{ end -}}
{{- range $registry.services }}{{ range .secrets }}{{ $secrets = append $secrets .env }}{{ end }}{{ end -}}
{{- range $registry.console.secrets }}{{ $secrets = append $secrets .env }}{{ end -}}
{{- $sources := list (dict "path" (printf "services.%s.env" $service) "env" ($svc.env | default dict)) -}}
{{- if eq $service "console" -}}
{{- $sources = list (dict "path" "console.env" "env" ($svc.env | default dict)) -}}
{{- else -}}
{{- $sources = prepend $sources (dict "path" "config.env" "env" ($root.Values.config.env | default dict)) -}}
{{- end -}}
{{- $data := dict -}}
{{- range $source := $sources -}}
{{- range $key, $value := $source.env -}}
{{- if has $key $managed -}}
{{- fail (printf "%s.%s: %s is set by the chart (docs/kubernetes.md, Values); remove it" $source.path $key $key) -}}
{{- end -}}
{{- if has $key $secrets -}}
{{- fail (printf "%s.%s: %s is a secret; give it in the Secret (secrets / services.<name>.secrets / console.secrets), never as plain env" $source.path $key $key) -}}
{{- end -}}
{{- if and (hasPrefix "KINSHIP_" $key) (not (has $key $entry.settings)) -}}
{{- fail (printf "%s.%s: %s is not a setting of %s (docs/configuration.md); misspelt, or meant for another service?" $source.path $key $key $service) -}}
{{- end -}}
{{- if not (kindIs "invalid" $value) -}}
{{- if ne (toString $value) "" -}}
{{- $_ := set $data $key (toString $value) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toYaml $data -}}
{{- end -}}

{{/*
The plain (non-secret) settings of one workload, as its ConfigMap's data and the migration
Job's env. (dict "root" $ "service" name) -> YAML map
*/}}
{{- define "kinship.configData" -}}
{{- if eq .service "console" -}}
{{- include "kinship.consoleConfigData" . -}}
{{- else -}}
{{- $root := .root -}}
{{- $values := $root.Values -}}
{{- $entry := include "kinship.entry" . | fromJson -}}
{{- $auth := include "kinship.kafkaAuth" $root -}}
{{- $data := dict "KINSHIP_LOG_LEVEL" (toString $values.config.logLevel) -}}
{{- $data = mergeOverwrite $data (include "kinship.envValues" . | fromYaml) -}}
{{- $_ := set $data "KINSHIP_SERVICE_NAME" .service -}}
{{- $_ := set $data "KINSHIP_HTTP_HOST" "0.0.0.0" -}}
{{- $_ := set $data "KINSHIP_HTTP_PORT" (toString (int $entry.httpPort)) -}}
{{- $_ := set $data "KINSHIP_DATABASE_SCHEMA" .service -}}
{{- $_ := set $data "KINSHIP_GRACEFUL_TIMEOUT_SECONDS" (include "kinship.gracefulTimeout" .) -}}
{{- $_ := set $data "KINSHIP_TOPIC_PREFIX" ($values.config.topicPrefix | default "") -}}
{{- $_ := set $data "KINSHIP_CONSUMER_GROUP_PREFIX" $values.config.consumerGroupPrefix -}}
{{- /* Topics are Strimzi's; a service creates missing ones only without Strimzi topics and
     without ACLs (a KafkaUser may not create topics). */ -}}
{{- $selfCreate := and (not $values.strimzi.topics.enabled) (eq $auth "none") -}}
{{- $_ := set $data "KINSHIP_CREATE_TOPICS" (ternary "true" "false" $selfCreate) -}}
{{- $_ := set $data "KINSHIP_MIGRATE_ON_START" (ternary "false" "true" $values.migrations.enabled) -}}
{{- /* People's tokens: the identity provider's issuer (OIDC discovery finds its keys), or a
     JWKS URL, a PEM public key or (a secret) an HS key, with an issuer. */ -}}
{{- $_ := set $data "KINSHIP_JWT_AUDIENCE" $values.config.jwtAudience -}}
{{- $_ := set $data "KINSHIP_JWT_PERSON_CLAIM" ($values.config.jwtPersonClaim | default "sub") -}}
{{- with $values.config.oidcIssuer }}{{ $_ := set $data "KINSHIP_OIDC_ISSUER" . }}{{ end -}}
{{- with $values.config.jwksUrl }}{{ $_ := set $data "KINSHIP_JWT_JWKS_URL" . }}{{ end -}}
{{- with $values.config.jwtIssuer }}{{ $_ := set $data "KINSHIP_JWT_ISSUER" . }}{{ end -}}
{{- with $values.config.jwtPublicKey }}{{ $_ := set $data "KINSHIP_JWT_PUBLIC_KEY" . }}{{ end -}}
{{- /* The check-in service's vault, for the services that ask it (in-cluster Service). */ -}}
{{- if $entry.vaultScopes -}}
{{- $_ := set $data "KINSHIP_CHECKIN_URL" (include "kinship.serviceUrl" (dict "root" $root "service" "checkin")) -}}
{{- end -}}
{{- $console := include "kinship.consoleUrl" $root -}}
{{- if and $console (has "KINSHIP_CONSOLE_URL" $entry.settings) -}}
{{- $_ := set $data "KINSHIP_CONSOLE_URL" $console -}}
{{- end -}}
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
{{- end -}}

{{/*
The console's plain settings: its public URL, the identity provider, and the four services'
in-cluster URLs (it calls them with the signed-in person's token). No Kafka, no telemetry.
*/}}
{{- define "kinship.consoleConfigData" -}}
{{- $root := .root -}}
{{- $values := $root.Values -}}
{{- $entry := include "kinship.entry" . | fromJson -}}
{{- $data := dict "KINSHIP_LOG_LEVEL" (toString $values.config.logLevel) -}}
{{- $data = mergeOverwrite $data (include "kinship.envValues" . | fromYaml) -}}
{{- $_ := set $data "KINSHIP_SERVICE_NAME" "console" -}}
{{- $_ := set $data "KINSHIP_HTTP_HOST" "0.0.0.0" -}}
{{- $_ := set $data "KINSHIP_HTTP_PORT" (toString (int $entry.httpPort)) -}}
{{- $_ := set $data "KINSHIP_DATABASE_SCHEMA" "console" -}}
{{- $_ := set $data "KINSHIP_MIGRATE_ON_START" (ternary "false" "true" $values.migrations.enabled) -}}
{{- with include "kinship.consoleUrl" $root }}{{ $_ := set $data "KINSHIP_CONSOLE_PUBLIC_URL" . }}{{ end -}}
{{- with include "kinship.consoleIssuer" $root }}{{ $_ := set $data "KINSHIP_CONSOLE_OIDC_ISSUER" . }}{{ end -}}
{{- with $values.console.oidc.discoveryUrl }}{{ $_ := set $data "KINSHIP_CONSOLE_OIDC_DISCOVERY_URL" . }}{{ end -}}
{{- $_ := set $data "KINSHIP_CONSOLE_OIDC_CLIENT_ID" $values.console.oidc.clientId -}}
{{- $registry := include "kinship.registry" $root | fromJson -}}
{{- range $name, $_ := $registry.services -}}
{{- $_ := set $data (printf "KINSHIP_CONSOLE_%s_URL" (upper $name)) (include "kinship.serviceUrl" (dict "root" $root "service" $name)) -}}
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

{{/* Where a workload's secret values are given: (dict "root" $ "service" name) */}}
{{- define "kinship.secretsPath" -}}
{{- if eq .service "console" }}console.secrets{{ else }}services.{{ .service }}.secrets{{ end -}}
{{- end -}}

{{/*
Secret values given in values.yaml, checked against the registry's secret settings: a
workload is given only the secrets its settings class declares.
(dict "root" $ "scope" "shared"|service|"console") -> YAML map of the non-empty ones
*/}}
{{- define "kinship.secretValues" -}}
{{- $registry := include "kinship.registry" .root | fromJson -}}
{{- $known := list -}}
{{- $values := dict -}}
{{- $path := "secrets.values" -}}
{{- if eq .scope "shared" -}}
{{- range $registry.sharedSecrets }}{{ $known = append $known .env }}{{ end -}}
{{- $values = .root.Values.secrets.values | default dict -}}
{{- else -}}
{{- $ctx := dict "root" .root "service" .scope -}}
{{- $known = list "KINSHIP_MIGRATIONS_DATABASE_URL" -}}
{{- range (include "kinship.entry" $ctx | fromJson).secrets }}{{ $known = append $known .env }}{{ end -}}
{{- $svc := include "kinship.serviceValues" $ctx | fromYaml -}}
{{- $values = $svc.secrets.values | default dict -}}
{{- $path = printf "%s.values" (include "kinship.secretsPath" $ctx) -}}
{{- end -}}
{{- $given := dict -}}
{{- range $key, $value := $values -}}
{{- if not (has $key $known) -}}
{{- fail (printf "%s.%s: %s is not a secret this one reads (it reads: %s; docs/kubernetes.md, Secrets)" $path $key $key (join ", " $known)) -}}
{{- end -}}
{{- if and (not (kindIs "invalid" $value)) (ne (toString $value) "") -}}
{{- $_ := set $given $key (toString $value) -}}
{{- end -}}
{{- end -}}
{{- toYaml $given -}}
{{- end -}}

{{/*
Secret env of a workload's containers, from secretKeyRefs. Required settings are not
optional: a missing key stops the pod with a clear event rather than starting it half set.
A migration Job gets only what `migrate` reads (the registry's migrationSecrets: the database).
(dict "root" $ "service" name "migration" bool)
*/}}
{{- define "kinship.secretEnv" -}}
{{- $root := .root -}}
{{- $registry := include "kinship.registry" $root | fromJson -}}
{{- $entry := include "kinship.entry" . | fromJson -}}
{{- $svc := include "kinship.serviceValues" . | fromYaml -}}
{{- $own := include "kinship.serviceSecretName" . -}}
{{- if .migration -}}
{{- if not $svc.secrets.existingSecret }}{{ $own = include "kinship.migrationSecretName" . }}{{ end -}}
{{- range $entry.secrets }}
{{- if has .env $entry.migrationSecrets }}
{{- $key := .env -}}
{{- if eq .env "KINSHIP_DATABASE_URL" }}{{ $key = include "kinship.migrationDatabaseUrlKey" $ }}{{ end }}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ $own }}
      key: {{ $key }}
      optional: {{ not .required }}
{{- end }}
{{- end }}
{{- else -}}
{{- if hasKey $registry.services .service }}
{{- $shared := include "kinship.sharedSecretName" $root -}}
{{- range $registry.sharedSecrets }}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ $shared }}
      key: {{ .env }}
      optional: {{ not .required }}
{{- end }}
{{- end }}
{{- range $entry.secrets }}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ $own }}
      key: {{ .env }}
      optional: {{ not .required }}
{{- end }}
{{- if and $entry.kafka (eq (include "kinship.kafkaAuth" $root) "scram-sha-512") }}
- name: KINSHIP_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "kinship.kafkaUser" . }}
      key: password
{{- end }}
{{- end }}
{{- end -}}

{{/* The key of the workload's Secret the migration Job reads its database URL from. */}}
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
{{- $values := .Values -}}
{{- $registry := include "kinship.registry" $root | fromJson -}}
{{- $missing := list -}}
{{- $sharedGiven := dict -}}
{{- if not $values.secrets.existingSecret -}}
{{- $sharedGiven = include "kinship.secretValues" (dict "root" $root "scope" "shared") | fromYaml -}}
{{- range $registry.sharedSecrets -}}
{{- if and .required (not (hasKey $sharedGiven .env)) -}}
{{- $missing = append $missing (printf "secrets.values.%s (or secrets.existingSecret)" .env) -}}
{{- end -}}
{{- end -}}
{{- /* The settings let a service run without API keys; the check-in service's vault
     needs the other services' keys in them. */ -}}
{{- $clients := include "kinship.vaultClients" $root | fromJsonArray -}}
{{- if and $clients (not (hasKey $sharedGiven "KINSHIP_API_KEYS")) -}}
{{- $missing = append $missing (printf "secrets.values.KINSHIP_API_KEYS with the check-in vault keys of %s (or secrets.existingSecret)" (join ", " $clients)) -}}
{{- end -}}
{{- end -}}
{{- $hints := dict "KINSHIP_CONSOLE_OIDC_ISSUER" "config.oidcIssuer (or console.oidc.issuer)" -}}
{{- range $name, $entry := include "kinship.workloads" $root | fromJson -}}
{{- $ctx := dict "root" $root "service" $name -}}
{{- $svc := include "kinship.serviceValues" $ctx | fromYaml -}}
{{- $path := include "kinship.secretsPath" $ctx -}}
{{- if not $svc.secrets.existingSecret -}}
{{- $given := include "kinship.secretValues" (dict "root" $root "scope" $name) | fromYaml -}}
{{- range $entry.secrets -}}
{{- if and .required (not (hasKey $given .env)) -}}
{{- $missing = append $missing (printf "%s.values.%s (or %s.existingSecret)" $path .env $path) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $config := include "kinship.configData" $ctx | fromYaml -}}
{{- range $entry.requiredConfig -}}
{{- if not (hasKey $config .) -}}
{{- $missing = append $missing (get $hints . | default (printf "%s.env.%s" (ternary "console" (printf "services.%s" $name) (eq $name "console")) .)) -}}
{{- end -}}
{{- end -}}
{{- if and (eq $name "console") (not (hasKey $config "KINSHIP_CONSOLE_PUBLIC_URL")) -}}
{{- $missing = append $missing "config.consoleUrl (or console.ingress.host): the URL people open the console at" -}}
{{- end -}}
{{- end -}}
{{- $config := $values.config -}}
{{- if and (or $config.jwksUrl $config.jwtPublicKey (hasKey $sharedGiven "KINSHIP_JWT_SECRET")) (not (or $config.jwtIssuer $config.oidcIssuer)) -}}
{{- $missing = append $missing "config.jwtIssuer (people's tokens need an issuer; or config.oidcIssuer)" -}}
{{- end -}}
{{- toJson $missing -}}
{{- end -}}

{{/*
Secret values the services would refuse at start, refused at render (values-given Secrets
only; an existingSecret's keys are the cluster's): the local stack's published credentials,
keys shorter than minKeyBytes, secrets that must be one value in several services but differ,
and vault keys that are not in KINSHIP_API_KEYS with the scopes their service needs.
*/}}
{{- define "kinship.checkSecretValues" -}}
{{- $root := . -}}
{{- $registry := include "kinship.registry" $root | fromJson -}}
{{- $min := int $registry.minKeyBytes -}}
{{- $given := dict -}}
{{- $paths := dict -}}
{{- if not .Values.secrets.existingSecret -}}
{{- $_ := set $given "shared" (include "kinship.secretValues" (dict "root" $root "scope" "shared") | fromYaml) -}}
{{- $_ := set $paths "shared" "secrets.values" -}}
{{- end -}}
{{- range $name, $_ := include "kinship.workloads" $root | fromJson -}}
{{- $ctx := dict "root" $root "service" $name -}}
{{- $svc := include "kinship.serviceValues" $ctx | fromYaml -}}
{{- if not $svc.secrets.existingSecret -}}
{{- $_ := set $given $name (include "kinship.secretValues" (dict "root" $root "scope" $name) | fromYaml) -}}
{{- $_ := set $paths $name (printf "%s.values" (include "kinship.secretsPath" $ctx)) -}}
{{- end -}}
{{- end -}}
{{- /* Keys by scope, to measure. */ -}}
{{- $keys := dict "shared" (list) -}}
{{- range $registry.sharedSecrets }}{{ if .key }}{{ $_ := set $keys "shared" (append $keys.shared .env) }}{{ end }}{{ end -}}
{{- range $name, $entry := include "kinship.workloads" $root | fromJson -}}
{{- $list := list -}}
{{- range $entry.secrets }}{{ if .key }}{{ $list = append $list .env }}{{ end }}{{ end -}}
{{- $_ := set $keys $name $list -}}
{{- end -}}
{{- range $scope, $secrets := $given -}}
{{- range $env, $value := $secrets -}}
{{- if has (sha256sum $value) $registry.refusedValueSha256 -}}
{{- fail (printf "%s.%s is the local stack's published development value; generate a real one (docs/kubernetes.md, Secrets)" (get $paths $scope) $env) -}}
{{- end -}}
{{- if and (has $env (get $keys $scope)) (lt (len $value) $min) -}}
{{- fail (printf "%s.%s is shorter than %d bytes; the services refuse it (openssl rand -base64 48)" (get $paths $scope) $env $min) -}}
{{- end -}}
{{- /* Note key tables (key_id:base64,...): the published development key under any id. */ -}}
{{- if has $env (list "KINSHIP_NOTE_KEYS" "KINSHIP_CASE_NOTE_KEYS") -}}
{{- range splitList "," $value -}}
{{- $entry := splitn ":" 2 (trim .) -}}
{{- if has (sha256sum (b64dec ($entry._1 | default ""))) $registry.refusedValueSha256 -}}
{{- fail (printf "%s.%s: the key %q is the local stack's published development note key; generate a real one (openssl rand -base64 32)" (get $paths $scope) $env $entry._0) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $env, $services := $registry.sameValueSecrets -}}
{{- $seen := dict -}}
{{- range $services -}}
{{- $value := get (get $given . | default dict) $env -}}
{{- if $value }}{{ $_ := set $seen (sha256sum $value) . }}{{ end -}}
{{- end -}}
{{- if gt (len $seen) 1 -}}
{{- fail (printf "%s must be the same value in %s (one signs, another verifies); the values differ" $env (join ", " $services)) -}}
{{- end -}}
{{- end -}}
{{- $shared := get $given "shared" | default dict -}}
{{- if hasKey $shared "KINSHIP_API_KEYS" -}}
{{- $entries := fromJsonArray $shared.KINSHIP_API_KEYS -}}
{{- range $entries -}}
{{- if not (and (kindIs "map" .) .name (or .key .key_sha256)) -}}
{{- fail "secrets.values.KINSHIP_API_KEYS must be a JSON list of {\"name\", \"scopes\", \"key\" or \"key_sha256\"} (docs/kubernetes.md, Secrets)" -}}
{{- end -}}
{{- if .key -}}
{{- if or (lt (len .key) $min) (has (sha256sum .key) $registry.refusedValueSha256) -}}
{{- fail (printf "secrets.values.KINSHIP_API_KEYS: the key named %q is a development key or shorter than %d bytes" .name $min) -}}
{{- end -}}
{{- end -}}
{{- if and .key_sha256 (has (lower (toString .key_sha256)) $registry.refusedValueSha256) -}}
{{- fail (printf "secrets.values.KINSHIP_API_KEYS: the key named %q is given as the SHA-256 of a development key; issue a long random key" .name) -}}
{{- end -}}
{{- end -}}
{{- range $name, $entry := $registry.services -}}
{{- $key := get (get $given $name | default dict) "KINSHIP_CHECKIN_API_KEY" -}}
{{- if and $entry.vaultScopes $key -}}
{{- $digest := sha256sum $key -}}
{{- $found := dict -}}
{{- range $entries -}}
{{- if or (eq (toString .key) $key) (eq (toString .key_sha256) $digest) }}{{ $found = . }}{{ end -}}
{{- end -}}
{{- if not $found -}}
{{- fail (printf "services.%s.secrets.values.KINSHIP_CHECKIN_API_KEY is not one of the keys in secrets.values.KINSHIP_API_KEYS: the check-in vault would refuse %s" $name $name) -}}
{{- end -}}
{{- $lacking := list -}}
{{- range $entry.vaultScopes }}{{ if not (has . ($found.scopes | default list)) }}{{ $lacking = append $lacking . }}{{ end }}{{ end -}}
{{- if $lacking -}}
{{- fail (printf "KINSHIP_API_KEYS: the key %q (%s's KINSHIP_CHECKIN_API_KEY) lacks the scopes %s" $found.name $name (join ", " $lacking)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Fails every render (offline ones too: helm template, lint, --dry-run, Argo CD) whose values
the services would refuse, or that lacks required settings, unless
validation.allowMissingSecrets is true (CI lint and template runs only): then the missing
ones are listed in NOTES.txt instead.
*/}}
{{- define "kinship.validate" -}}
{{- include "kinship.checkSecretValues" . -}}
{{- $missing := include "kinship.missing" . | fromJsonArray -}}
{{- if and $missing (not (.Values.validation | default dict).allowMissingSecrets) -}}
{{- fail (printf "\n\nKinship cannot start without: %s\n(docs/kubernetes.md, Secrets; validation.allowMissingSecrets: true renders anyway, for CI only)" (join ", " $missing)) -}}
{{- end -}}
{{- end -}}

{{/* --- deployments and lanes ------------------------------------------------------------ */}}

{{/*
The Deployments the chart runs: one per workload, and one per lane of a service that is on
(the registry's lanes; services.<name>.<its values key>.enabled: docs/kubernetes.md, Lanes).
Each: service; lane ("" for the workload's own); name (<fullname>-<service>[-<lane>]);
component (its pods' app.kubernetes.io/component: server, or the lane's name, so that no
other Deployment's or Service's selector picks its pods); excluded (its
KINSHIP_EXCLUDED_CONSUMERS: a service's own Deployment leaves mainExcluded to its lanes
only while a lane is on, so with every lane off each consumer runs in the one Deployment);
scaleOn (the groups whose lag KEDA scales it on: the lane's, and the service's other ones).
-> JSON list
*/}}
{{- define "kinship.deployments" -}}
{{- $root := . -}}
{{- $deployments := list -}}
{{- range $name, $entry := include "kinship.workloads" . | fromJson -}}
{{- $ctx := dict "root" $root "service" $name -}}
{{- $svc := include "kinship.serviceValues" $ctx | fromYaml -}}
{{- $excluded := list -}}
{{- $lanes := list -}}
{{- range $entry.lanes -}}
{{- if (get $svc .values | default dict).enabled -}}
{{- $excluded = concat $excluded $entry.mainExcluded | uniq | sortAlpha -}}
{{- $lanes = append $lanes (dict "service" $name "lane" .name "name" (printf "%s-%s" (include "kinship.serviceName" $ctx) .name) "component" .name "excluded" .excluded "scaleOn" .scaleOn "values" .values "relayLeads" .relayLeads) -}}
{{- end -}}
{{- end -}}
{{- $scaleOn := list -}}
{{- range $entry.scaleOn | default list -}}
{{- if not (has .group $excluded) }}{{ $scaleOn = append $scaleOn . }}{{ end -}}
{{- end -}}
{{- $deployments = append $deployments (dict "service" $name "lane" "" "name" (include "kinship.serviceName" $ctx) "component" "server" "excluded" $excluded "scaleOn" $scaleOn "values" "" "relayLeads" true) -}}
{{- $deployments = concat $deployments $lanes -}}
{{- end -}}
{{- toJson $deployments -}}
{{- end -}}

{{/*
One Deployment's values: its service's, with a lane's replicas, resources and autoscaling
(services.<name>.<lane values key>) where given. (dict "root" $ "deployment" d) -> YAML
*/}}
{{- define "kinship.deploymentValues" -}}
{{- $svc := include "kinship.serviceValues" (dict "root" .root "service" .deployment.service) | fromYaml -}}
{{- if .deployment.lane -}}
{{- $lane := get $svc .deployment.values | default dict -}}
{{- if not (kindIs "invalid" $lane.replicas) }}{{ $_ := set $svc "replicas" $lane.replicas }}{{ end -}}
{{- with $lane.resources }}{{ $_ := set $svc "resources" . }}{{ end -}}
{{- with $lane.autoscaling }}{{ $_ := set $svc "autoscaling" (mergeOverwrite (deepCopy ($svc.autoscaling | default dict)) .) }}{{ end -}}
{{- end -}}
{{- toYaml $svc -}}
{{- end -}}

{{/* Whether KEDA scales a Deployment (d from kinship.deployments): "true" or "". */}}
{{- define "kinship.kedaScaled" -}}
{{- if and .root.Values.keda.enabled .deployment.scaleOn -}}true{{- end -}}
{{- end -}}

{{/* NetworkPolicy egress rules (one YAML list item each). */}}

{{- define "kinship.egressDns" -}}
- to:
    - namespaceSelector:
        {{- toYaml .Values.networkPolicy.dns.namespaceSelector | nindent 8 }}
      podSelector:
        {{- toYaml .Values.networkPolicy.dns.podSelector | nindent 8 }}
  ports:
    - {protocol: UDP, port: 53}
    - {protocol: TCP, port: 53}
{{- end -}}

{{- define "kinship.egressPostgres" -}}
- ports:
    - {protocol: TCP, port: {{ .Values.postgresql.port | int }}}
  {{- with .Values.postgresql.networkPolicyPeers }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{- define "kinship.egressKafka" -}}
- ports:
    - {protocol: TCP, port: {{ .Values.kafka.port | int }}}
  to:
    {{- if .Values.kafka.networkPolicyPeers }}
    {{- toYaml .Values.kafka.networkPolicyPeers | nindent 4 }}
    {{- else }}
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: {{ include "kinship.kafkaNamespace" . }}
      podSelector:
        matchLabels:
          strimzi.io/cluster: {{ .Values.kafka.clusterName }}
          strimzi.io/kind: Kafka
    {{- end }}
{{- end -}}

{{- define "kinship.egressTelemetry" -}}
{{- if .Values.telemetry.enabled -}}
- ports:
    - {protocol: TCP, port: {{ .Values.telemetry.port | int }}}
  {{- with .Values.telemetry.networkPolicyPeers }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
{{- end -}}

{{/* The notifications service's deliveries: the outside world only, on the given ports. */}}
{{- define "kinship.egressDeliveries" -}}
{{- $egress := .Values.networkPolicy.notificationsEgress -}}
{{- $v4 := list -}}
{{- $v6 := list -}}
{{- range $egress.except -}}
{{- if contains ":" . }}{{ $v6 = append $v6 . }}{{ else }}{{ $v4 = append $v4 . }}{{ end -}}
{{- end -}}
- ports:
    {{- range $egress.ports }}
    - {protocol: TCP, port: {{ . | int }}}
    {{- end }}
  to:
    {{- range $egress.cidrs }}
    - ipBlock:
        cidr: {{ . }}
        {{- $except := ternary $v6 $v4 (contains ":" .) }}
        {{- if $except }}
        except:
          {{- toYaml $except | nindent 10 }}
        {{- end }}
    {{- end }}
{{- end -}}

{{/*
The port of a URL: its explicit port, else its scheme's (https 443, http 80).
*/}}
{{- define "kinship.urlPort" -}}
{{- $url := urlParse . -}}
{{- $explicit := regexFind ":[0-9]+$" $url.host -}}
{{- if $explicit -}}
{{- trimPrefix ":" $explicit -}}
{{- else -}}
{{- ternary "80" "443" (eq $url.scheme "http") -}}
{{- end -}}
{{- end -}}

{{/*
The identity provider's URLs a workload calls: the services its issuer's discovery document
and keys (config.oidcIssuer, config.jwksUrl), the console its issuer and discovery URL.
(dict "root" $ "service" name) -> JSON list
*/}}
{{- define "kinship.identityProviderUrls" -}}
{{- $values := .root.Values -}}
{{- $urls := list -}}
{{- if eq .service "console" -}}
{{- with include "kinship.consoleIssuer" .root }}{{ $urls = append $urls . }}{{ end -}}
{{- with $values.console.oidc.discoveryUrl }}{{ $urls = append $urls . }}{{ end -}}
{{- else -}}
{{- with $values.config.oidcIssuer }}{{ $urls = append $urls . }}{{ end -}}
{{- with $values.config.jwksUrl }}{{ $urls = append $urls . }}{{ end -}}
{{- end -}}
{{- toJson $urls -}}
{{- end -}}

{{/*
Egress to the identity provider, only when the workload calls one: networkPolicy.identityProvider
.port and any other port its URLs name, to identityProvider.networkPolicyPeers (empty: any
destination on those ports; NetworkPolicies cannot name a host).
*/}}
{{- define "kinship.egressIdentityProvider" -}}
{{- $urls := include "kinship.identityProviderUrls" . | fromJsonArray -}}
{{- if $urls -}}
{{- $idp := .root.Values.networkPolicy.identityProvider -}}
{{- $ports := list (int $idp.port) -}}
{{- range $urls }}{{ $ports = append $ports (include "kinship.urlPort" . | int) }}{{ end -}}
- ports:
    {{- range ($ports | uniq) }}
    - {protocol: TCP, port: {{ . }}}
    {{- end }}
  {{- with $idp.networkPolicyPeers }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
{{- end -}}

{{/* Egress to other workloads' pods on their HTTP ports: (dict "root" $ "services" list) */}}
{{- define "kinship.egressWorkloads" -}}
{{- $root := .root -}}
{{- range .services }}
{{- $ctx := dict "root" $root "service" . }}
- ports:
    - {protocol: TCP, port: {{ (include "kinship.entry" $ctx | fromJson).httpPort | int }}}
  to:
    - podSelector:
        matchLabels:
          {{- include "kinship.selectorLabels" $ctx | nindent 10 }}
{{- end }}
{{- end -}}

{{/*
Ingress peers that are other workloads' pods, their lanes' included:
(dict "root" $ "services" list)
*/}}
{{- define "kinship.workloadPeers" -}}
{{- $root := .root -}}
{{- $services := .services -}}
{{- range include "kinship.deployments" $root | fromJsonArray }}
{{- if has .service $services }}
- podSelector:
    matchLabels:
      {{- include "kinship.selectorLabels" (dict "root" $root "service" .service "component" .component) | nindent 6 }}
{{- end }}
{{- end }}
{{- end -}}

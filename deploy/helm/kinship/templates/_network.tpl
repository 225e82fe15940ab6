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

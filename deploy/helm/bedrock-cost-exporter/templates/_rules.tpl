{{- /* The rules' parameter set as the chart sees it (prometheusRule.config: every key of
deploy/mixin/config.toml). Used by the generated templates/prometheusrule.yaml and by the dashboard
ConfigMaps (templates/dashboards.yaml), which carry the same job selector and currency. */ -}}

{{- /* The job selector of the rules and dashboards: prometheusRule.config.jobSelector, else the
job the ServiceMonitor gives the series (bce.job in _helpers.tpl: serviceMonitor.jobLabel's Service
label, i.e. job="bedrock-cost-exporter" whatever the release is called). */ -}}
{{- define "bce.rules.jobSelector" -}}
{{- $c := .Values.prometheusRule.config | default dict }}
{{- if hasKey $c "jobSelector" }}
{{- $c.jobSelector }}
{{- else }}
{{- $job := include "bce.job" . }}
{{- if not $job }}
{{- fail "serviceMonitor.relabelings sets `job` from a pattern, which the chart cannot follow: set prometheusRule.config.jobSelector to the job it gives (e.g. job=\"my-job\")" }}
{{- end }}
{{- printf "job=%s" ($job | quote) }}
{{- end }}
{{- end }}

{{- /* The currency's metric-name suffix (usd, eur, …). */ -}}
{{- define "bce.rules.currencySuffix" -}}
{{- $c := .Values.prometheusRule.config | default dict }}
{{- dig "currency" "USD" $c | lower }}
{{- end }}

{{- /* The dashboards' unit for the currency: Grafana's currencyXXX where it has one. */ -}}
{{- define "bce.rules.currencyUnit" -}}
{{- $code := include "bce.rules.currencySuffix" . | upper }}
{{- $known := list "USD" "GBP" "EUR" "JPY" "RUB" "UAH" "BRL" "DKK" "ISK" "NOK" "SEK" "CZK" "CHF" "PLN" "ZAR" "INR" "KRW" "IDR" "PHP" "VND" "TRY" "MYR" "XPF" "BGN" "PYG" "UYU" "ILS" }}
{{- if has $code $known }}currency{{ $code }}{{ else }}suffix: {{ $code }}{{ end }}
{{- end }}

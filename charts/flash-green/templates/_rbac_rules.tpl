{{/*
The rules on namespaced resources, shared by the ClusterRole (cluster mode) and each Role
(namespaced mode). Each rule names the operator code path that needs it.
*/}}
{{- define "flash-green.rbac.namespacedRules" -}}
# Watch ArbitrageBots; patch them (kopf keeps its bookkeeping in status.kopf; no finalizer).
- apiGroups: ["arbitrage.flashgreen.dev"]
  resources: ["arbitragebots"]
  verbs: ["get", "list", "watch", "patch"]
# Write observedGeneration, phase and conditions through the status subresource.
- apiGroups: ["arbitrage.flashgreen.dev"]
  resources: ["arbitragebots/status"]
  verbs: ["patch"]
# Children of a bot: created and patched; removed by owner references, never deleted directly.
- apiGroups: [""]
  resources: ["configmaps", "services", "persistentvolumeclaims"]
  verbs: ["get", "create", "patch"]
# Bot Deployments: also watched, so a bot's Ready condition follows the Deployment's availability.
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "patch"]
# Referenced Secrets are read to check they hold the required keys; values are never copied.
# The bot's API key (spec.apiKeySecretRef) is kept in the operator's memory to read the bot's API.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
# Events on ArbitrageBots, posted by the operator and by kopf; patch counts a repeated Event
# (the same reason within a minute) on the one already posted instead of a new one.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
# A bot's ServiceMonitor, when the spec asks for it and the Prometheus Operator is installed;
# deleted when monitoring is switched off in the spec.
- apiGroups: ["monitoring.coreos.com"]
  resources: ["servicemonitors"]
  verbs: ["get", "create", "patch", "delete"]
{{- end -}}

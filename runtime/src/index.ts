// What other parts may reuse from the runtime. The pod iptables generator it applies in every pod now
// lives in wire/ (wire/src/pod-iptables.ts), where deploy/kubernetes imports it for its init step; it is
// re-exported here for callers that still import it from the runtime.
export { DEFAULT_SIDECAR_UID, podIptablesRules, POD_CHAINS, type PodIptablesOptions, type PodIptablesRules } from '@meshlet/wire';

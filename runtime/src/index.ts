// What other parts may reuse from the runtime. deploy/kubernetes builds its iptables init step from
// the same pure function the runtime applies in every pod (it has no dependencies, so it can move to
// wire/ unchanged).
export { DEFAULT_SIDECAR_UID, podIptablesRules, POD_CHAINS, type PodIptablesOptions, type PodIptablesRules } from './pod-iptables.ts';

// The contracts that cross process boundaries. No I/O; every part may import this.
export * from './ports.ts';
export * from './failure.ts';
export * from './attributes.ts';
export * from './quantities.ts';
export * from './spec.ts';
export * from './spec-checks.ts';
export * from './spec-parse.ts';
export * from './sidecar-config.ts';
export * from './infra-events.ts';
export * from './fault-header.ts';
export type * from './query-api.ts';
export { QUERY_API } from './query-api.ts';
export * from './collector-config.ts';
export * from './pod-iptables.ts';

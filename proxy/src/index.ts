// The sidecar as a library: what `meshlet proxy` runs, for embedding and tests.
export { createSidecar, type Sidecar, type SidecarOptions, type Addresses } from './sidecar.ts';
export { parseConfig, overlay, envOverrides, readConfigFile } from './config.ts';
export { MeshError, ConfigError, REQUEST_ERROR_CODES } from './errors.ts';
export type { ProxyRequest, ProxyResponse, Service, Layer } from './service.ts';

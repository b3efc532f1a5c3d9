// Names in a mesh, in a module of their own: the sidecar's config schema checks service names without
// building the whole mesh spec schema (spec.ts), so a sidecar's bundle leaves spec.ts out.

/** Service, version and mesh names: DNS labels, so they work as host names, pod names and SPIFFE paths. */
export const NAME_PATTERN = /^[a-z]([a-z0-9-]{0,38}[a-z0-9])?$/;

// Names of everything the runtime creates, derived from the mesh and pod names. Deterministic, so
// teardown and leak checks can compute them; short where Linux limits them (interfaces: 15 bytes,
// iptables chains: 28).
import { createHash } from 'node:crypto';

const hash = (text: string, length: number): string => createHash('sha256').update(text).digest('hex').slice(0, length);

/** Names of the host-level objects of one mesh. */
export interface MeshNames {
  /** Short tag that makes chain and interface names unique per (state root, mesh). */
  tag: string;
  /** Marker env value put on every process the mesh starts, so a sweep can find strays after `kill -9`. */
  owner: string;
  /** iptables chains on the host. */
  chains: { forward: string; nat: string; publish: string; postrouting: string };
  /** cgroup path (relative to each hierarchy root) that holds every pod of the mesh. */
  cgroup: string;
}

export function meshNames(stateRoot: string, mesh: string): MeshNames {
  const tag = hash(`${stateRoot}\0${mesh}`, 6);
  const chain = (what: string) => `ML-${tag}-${what}`;
  return {
    tag,
    owner: `${mesh}.${hash(`${stateRoot}\0${mesh}`, 12)}`,
    chains: { forward: chain('FWD'), nat: chain('DNAT'), publish: chain('PUB'), postrouting: chain('POST') },
    cgroup: `meshlet/${mesh}`,
  };
}

/** Names of the per-pod objects. */
export interface PodNames {
  /** Network namespace (`/run/netns/<netns>`). */
  netns: string;
  /** Host end of the veth pair (the pod end is `eth0`). */
  veth: string;
  /** runc container id of the app (inside the mesh's runc root). */
  container: string;
  /** cgroup of the pod (app and sidecar below it). */
  cgroup: string;
}

export function podNames(mesh: MeshNames, meshName: string, pod: string): PodNames {
  return {
    netns: `ml-${meshName}-${pod}`,
    veth: `mlv${hash(`${mesh.tag}/${pod}`, 8)}`,
    container: pod,
    cgroup: `${mesh.cgroup}/${pod}`,
  };
}

/** Env var carrying `MeshNames.owner` on every process the runtime starts. */
export const OWNER_ENV = 'MESHLET_RUNTIME_OWNER';

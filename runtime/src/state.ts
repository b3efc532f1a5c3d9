// The state of a mesh on disk (`<state root>/<mesh>/state.json`): what was created (the journal of
// undo lists), IP and VIP allocations, run-time overrides. Written atomically after every change, so
// `meshlet down` or the next daemon can undo everything after a `kill -9`.
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JournalEntry } from './apply.ts';
import type { ReplicaOverrides } from './model.ts';
import type { NetworkFacts } from './plan.ts';

export interface PodRecord {
  ip: string;
  service: string;
  version?: string;
  index: number;
}

export interface MeshRecord {
  format: 1;
  mesh: string;
  specPath: string;
  specText: string;
  isolation: 'netns' | 'process';
  /** Owner marker put on every process (see names.ts). */
  owner: string;
  daemonPid: number;
  daemonStartTicks: number | undefined;
  createdAtMs: number;
  network: NetworkFacts;
  vips: Record<string, string>;
  pods: Record<string, PodRecord>;
  replicas: ReplicaOverrides;
  traffic: Record<string, Record<string, number>>;
  faults: Record<string, Record<string, boolean>>;
  /** The collector the runtime started, if any. */
  collector?: { pid: number; otlp: string; ui: string; dataDir: string };
  journal: JournalEntry[];
}

export const STATE_FILE = 'state.json';

export const meshDirOf = (stateRoot: string, mesh: string) => join(stateRoot, mesh);

export async function readMeshRecord(dir: string): Promise<MeshRecord | undefined> {
  try {
    const record = JSON.parse(await readFile(join(dir, STATE_FILE), 'utf8')) as MeshRecord;
    return record.format === 1 ? record : undefined;
  } catch {
    return undefined;
  }
}

/** Mesh directories under the state root that hold a state file. */
export async function listMeshDirs(stateRoot: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(stateRoot, { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const dir = join(stateRoot, e.name);
    if ((await readMeshRecord(dir)) !== undefined) out.push(dir);
  }
  return out;
}

/**
 * Serialised, atomic writes of one mesh's record: the text is taken when called, written in call
 * order, and durable when the returned promise resolves (the journal is write-ahead). A record with
 * an empty journal removes the mesh directory instead.
 */
export function createStateWriter(dir: string): (record: MeshRecord) => Promise<void> {
  let chain: Promise<void> = Promise.resolve();
  return (record) => {
    const text = `${JSON.stringify(record, null, 1)}\n`;
    const empty = record.journal.length === 0;
    const written = chain.then(async () => {
      // An empty journal means nothing of the mesh exists any more: no state either.
      if (empty) return rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      const tmp = join(dir, `${STATE_FILE}.tmp`);
      await writeFile(tmp, text, { mode: 0o600 });
      await rename(tmp, join(dir, STATE_FILE));
    });
    chain = written.catch(() => {});
    return written;
  };
}

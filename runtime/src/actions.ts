// Actions: the data that plan steps are made of, and the one interpreter that performs them through
// the host port. Undo actions must be idempotent: "already gone" is success (CNI DEL semantics).
import type { CgroupLimits, Cgroups } from './cgroups.ts';
import { isAbsentError, type Host } from './host.ts';

export type Action =
  /** Runs a program. `absentOk`: a "not found" failure is success. `untilAbsent`: repeat until "not found" (removes duplicates). */
  | { op: 'exec'; argv: string[]; stdin?: string; absentOk?: boolean; untilAbsent?: boolean }
  | { op: 'write'; path: string; content: string; mode?: number }
  | { op: 'mkdir'; path: string }
  | { op: 'symlink'; path: string; target: string }
  | { op: 'remove'; path: string }
  | { op: 'cgroup-create'; path: string; limits?: CgroupLimits }
  | { op: 'cgroup-remove'; path: string }
  /** SIGKILL a process (and its group) if it is still the one that started at `startTicks`. */
  | { op: 'kill'; pid: number; startTicks?: number; group?: boolean }
  /** SIGKILL every process carrying the mesh's owner marker. */
  | { op: 'sweep'; owner: string };

/** One unit of a plan: what to do, and how to undo it (also after a crash, from the journal). */
export interface Step {
  /** Stable id: `mesh/bridge`, `pod/orders-1/net`. The journal is keyed by it. */
  id: string;
  /** For people: "create bridge meshlet0 10.77.0.1/16". */
  title: string;
  do: Action[];
  undo: Action[];
}

/** What actions need besides the host port. */
export interface ActionDeps {
  host: Host;
  /** Undefined where cgroups are not available (process isolation without root). */
  cgroups: Cgroups | undefined;
  signal(pid: number, startTicks: number | undefined, signal: NodeJS.Signals, group: boolean): Promise<boolean>;
  sweep(owner: string): Promise<number>;
}

/** Performs one action. `undoing`: tolerate absence everywhere (teardown). */
export async function runAction(action: Action, deps: ActionDeps, undoing = false): Promise<void> {
  switch (action.op) {
    case 'exec': {
      const tolerate = undoing || action.absentOk === true;
      for (let i = 0; i < (action.untilAbsent ? 16 : 1); i++) {
        try {
          await deps.host.exec(action.argv, action.stdin === undefined ? {} : { stdin: action.stdin });
        } catch (err) {
          if (tolerate && isAbsentError(err)) return;
          throw err;
        }
      }
      return;
    }
    case 'write':
      return deps.host.writeFile(action.path, action.content, action.mode);
    case 'mkdir':
      return deps.host.mkdir(action.path);
    case 'symlink':
      return deps.host.symlink(action.target, action.path);
    case 'remove':
      return deps.host.remove(action.path);
    case 'cgroup-create':
      return deps.cgroups?.create(action.path, action.limits);
    case 'cgroup-remove':
      return deps.cgroups?.remove(action.path);
    case 'kill':
      await deps.signal(action.pid, action.startTicks, 'SIGKILL', action.group === true);
      return;
    case 'sweep':
      await deps.sweep(action.owner);
      return;
  }
}

/** A one-line description of an action, for logs and `--dry-run`. */
export function describeAction(action: Action): string {
  switch (action.op) {
    case 'exec':
      return `${action.argv.join(' ')}${action.stdin === undefined ? '' : ` <<< ${action.stdin.trim().split('\n').length} line(s)`}`;
    case 'write':
      return `write ${action.path}`;
    case 'mkdir':
      return `mkdir -p ${action.path}`;
    case 'symlink':
      return `ln -s ${action.target} ${action.path}`;
    case 'remove':
      return `rm -rf ${action.path}`;
    case 'cgroup-create':
      return `cgroup create ${action.path}${action.limits === undefined ? '' : ` ${JSON.stringify(action.limits)}`}`;
    case 'cgroup-remove':
      return `cgroup remove ${action.path}`;
    case 'kill':
      return `kill -9 ${action.group ? '-' : ''}${action.pid}`;
    case 'sweep':
      return `kill -9 every process marked ${action.owner}`;
  }
}

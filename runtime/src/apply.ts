// Applies plan steps with rollback, and tears down from the journal.
//
//   for each stage (steps of a stage run concurrently):
//     journal.record(step.id, step.undo)   ← write-ahead: a crash after this point still knows how to undo
//     run step.do actions in order
//   on the first failure: wait for the stage's other steps, then undo every step of this apply, newest first
//
// Teardown runs the journal's undo lists newest first; every undo action tolerates "not found", so a
// teardown can be repeated, and one after `kill -9` of the daemon removes exactly what was made.
import { runAction, type Action, type ActionDeps, type Step } from './actions.ts';
import { ERROR_CODES, RuntimeError } from './errors.ts';

export interface JournalEntry {
  id: string;
  undo: Action[];
}

/** Where undo lists are kept (the mesh's state file); writes are durable when the promise resolves. */
export interface Journal {
  record(id: string, undo: Action[]): Promise<void>;
  forget(ids: readonly string[]): Promise<void>;
  entries(): readonly JournalEntry[];
}

/** An in-memory journal whose changes are persisted by `persist` (called after every change). */
export function createJournal(initial: readonly JournalEntry[], persist: (entries: readonly JournalEntry[]) => Promise<void>): Journal {
  let entries: JournalEntry[] = [...initial];
  return {
    async record(id, undo) {
      // Re-recording an id (a retried step) keeps its position: it was created then.
      const at = entries.findIndex((e) => e.id === id);
      if (at >= 0) entries[at] = { id, undo };
      else entries.push({ id, undo });
      await persist(entries);
    },
    async forget(ids) {
      const drop = new Set(ids);
      entries = entries.filter((e) => !drop.has(e.id));
      await persist(entries);
    },
    entries: () => entries,
  };
}

export interface ApplyOptions {
  deps: ActionDeps;
  journal: Journal;
  /** Steps of one stage run at most this many at once. */
  concurrency?: number;
  onStep?: (step: Step, phase: 'do' | 'undo') => void;
}

/** Runs `stages` in order; on failure undoes everything this call did and throws `ERR_RUNTIME_APPLY`. */
export async function applyPlan(stages: readonly (readonly Step[])[], options: ApplyOptions): Promise<void> {
  const applied: Step[] = [];
  let failure: { step: Step; error: unknown } | undefined;
  for (const stage of stages) {
    await runLimited(stage, options.concurrency ?? 4, async (step) => {
      if (failure !== undefined) return;
      await options.journal.record(step.id, step.undo);
      applied.push(step);
      options.onStep?.(step, 'do');
      try {
        for (const action of step.do) await runAction(action, options.deps);
      } catch (error) {
        failure ??= { step, error };
      }
    });
    if (failure !== undefined) break;
  }
  if (failure === undefined) return;
  const problems = await undoSteps(applied.reverse(), options);
  const message = failure.error instanceof Error ? failure.error.message : String(failure.error);
  throw new RuntimeError(ERROR_CODES.apply, `${failure.step.title} failed: ${message}`, {
    cause: failure.error,
    details: problems.length === 0 ? ['everything done before it was rolled back'] : ['rollback was incomplete:', ...problems],
    hint: problems.length === 0 ? undefined : 'run `meshlet down` to retry the cleanup',
  });
}

async function undoSteps(steps: readonly Step[], options: ApplyOptions): Promise<string[]> {
  const problems: string[] = [];
  for (const step of steps) {
    options.onStep?.(step, 'undo');
    const before = problems.length;
    for (const action of step.undo) {
      try {
        await runAction(action, options.deps, true);
      } catch (err) {
        problems.push(`${step.title}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (problems.length === before) await options.journal.forget([step.id]);
  }
  return problems;
}

/**
 * Runs the undo lists of the journal entries selected by `select` (all by default), newest first,
 * forgetting each entry whose undo succeeded. Returns the problems; an empty list means clean.
 */
export async function teardown(journal: Journal, deps: ActionDeps, select: (id: string) => boolean = () => true): Promise<string[]> {
  const problems: string[] = [];
  const entries = journal.entries().filter((e) => select(e.id)).reverse();
  for (const entry of entries) {
    const before = problems.length;
    for (const action of entry.undo) {
      try {
        await runAction(action, deps, true);
      } catch (err) {
        problems.push(`${entry.id}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (problems.length === before) await journal.forget([entry.id]);
  }
  return problems;
}

async function runLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

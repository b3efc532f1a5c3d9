// A wait that something can cut short: the runtime polls a few things while they start (a sidecar's
// /ready, a container's pid file) and also hears when it is worth looking again (a log line, an inotify
// event), so it waits for whichever comes first.

/** `wait(ms)` resolves after `ms`, or at once on the next `wake()`; its timer does not outlive it. */
export interface Waker {
  wake(): void;
  wait(ms: number): Promise<void>;
}

export function createWaker(): Waker {
  let pending: (() => void) | undefined;
  return {
    wake() {
      pending?.();
    },
    wait(ms) {
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => done(), ms);
        const done = () => {
          clearTimeout(timer);
          if (pending === done) pending = undefined;
          resolve();
        };
        pending = done;
      });
    },
  };
}

// One EventSource on the collector's live stream (`/api/v1/stream`), shared by every view.
// Views subscribe to the events they show; when the stream is down they fall back to polling.
import { createContext, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { QUERY_API, type StreamEvent } from '@meshlet/wire';

export type StreamStatus = 'connecting' | 'live' | 'down';
type EventName = StreamEvent['event'];
type DataOf<E extends EventName> = Extract<StreamEvent, { event: E }>['data'];
type Handler = (data: unknown) => void;

interface StreamContextValue {
  status: StreamStatus;
  subscribe: <E extends EventName>(event: E, handler: (data: DataOf<E>) => void) => () => void;
}

const StreamContext = createContext<StreamContextValue>({ status: 'down', subscribe: () => () => {} });

const EVENT_NAMES: readonly EventName[] = ['graph', 'failure', 'trace', 'mesh'];

export function StreamProvider({ children }: { children: ReactNode }) {
  const [status, setStatus] = useState<StreamStatus>('connecting');
  const handlers = useRef(new Map<EventName, Set<Handler>>());

  useEffect(() => {
    const source = new EventSource(QUERY_API.stream);
    source.onopen = () => setStatus('live');
    // EventSource reconnects by itself; until it does, views poll.
    source.onerror = () => setStatus(source.readyState === EventSource.CLOSED ? 'down' : 'connecting');
    for (const name of EVENT_NAMES) {
      source.addEventListener(name, (message: MessageEvent<string>) => {
        let data: unknown;
        try {
          data = JSON.parse(message.data);
        } catch {
          return; // A malformed event must not break the page; the next one replaces it.
        }
        for (const handler of handlers.current.get(name) ?? []) handler(data);
      });
    }
    return () => source.close();
  }, []);

  const value = useMemo<StreamContextValue>(
    () => ({
      status,
      subscribe: (event, handler) => {
        let set = handlers.current.get(event);
        if (!set) handlers.current.set(event, (set = new Set()));
        const h = handler as Handler;
        set.add(h);
        return () => set.delete(h);
      },
    }),
    [status],
  );
  return <StreamContext.Provider value={value}>{children}</StreamContext.Provider>;
}

export function useStreamStatus(): StreamStatus {
  return useContext(StreamContext).status;
}

/** Calls `handler` for each `event` from the stream while `enabled`. */
export function useStreamEvent<E extends EventName>(event: E, enabled: boolean, handler: (data: DataOf<E>) => void): void {
  const { subscribe } = useContext(StreamContext);
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => {
    if (!enabled) return;
    return subscribe(event, (data) => ref.current(data));
  }, [event, enabled, subscribe]);
}

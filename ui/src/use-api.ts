// React hook around getJson: loading/error/data for one URL, optional polling, and a way to patch
// the data in place (used by live SSE updates so views do not refetch what the stream already sent).
import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiFailure, getJson } from './api.ts';

export interface ApiState<T> {
  data: T | undefined;
  error: ApiFailure | undefined;
  /** True while a request for the current URL is in flight (data may still hold the previous answer). */
  loading: boolean;
  reload: () => void;
  /** Replace the data (e.g. from a stream event) without a request. */
  setData: (update: (previous: T | undefined) => T | undefined) => void;
}

/**
 * Loads `url` (nothing when null) and again every `refreshMs` when given.
 * The previous answer stays visible while the next one loads, so filters do not blank the page.
 */
export function useApi<T>(url: string | null, refreshMs?: number): ApiState<T> {
  const [data, setDataState] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiFailure | undefined>(undefined);
  const [loading, setLoading] = useState<boolean>(url !== null);
  const [generation, setGeneration] = useState(0);
  const urlRef = useRef(url);
  urlRef.current = url;

  useEffect(() => {
    if (url === null) {
      setLoading(false);
      return;
    }
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = (background: boolean): void => {
      if (!background) setLoading(true);
      getJson<T>(url, controller.signal)
        .then((value) => {
          if (controller.signal.aborted) return;
          setDataState(value);
          setError(undefined);
        })
        .catch((err: unknown) => {
          if (controller.signal.aborted) return;
          setError(err instanceof ApiFailure ? err : new ApiFailure(String(err), url, 0));
        })
        .finally(() => {
          if (controller.signal.aborted) return;
          setLoading(false);
          if (refreshMs !== undefined) timer = setTimeout(() => load(true), refreshMs);
        });
    };
    load(false);
    return () => {
      controller.abort();
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [url, refreshMs, generation]);

  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  const setData = useCallback((update: (previous: T | undefined) => T | undefined) => setDataState(update), []);
  return { data, error, loading, reload, setData };
}

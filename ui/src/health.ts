// The collector's own health (`/api/v1/health`), loaded once by the shell and shared with the views.
import { createContext, useContext } from 'react';
import type { CollectorHealth } from '@meshlet/wire';

export const HealthContext = createContext<CollectorHealth | undefined>(undefined);

/** The last health report, or undefined before the first one arrived. */
export function useCollectorHealth(): CollectorHealth | undefined {
  return useContext(HealthContext);
}

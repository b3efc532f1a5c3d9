import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStoreContract } from './contract.ts';
import { openSqliteStore } from './sqlite-store.ts';

runStoreContract('sqlite (in memory)', (now) => openSqliteStore({ dir: ':memory:', now }));

runStoreContract('sqlite (file, WAL, synchronous=FULL)', (now) => {
  const dir = mkdtempSync(join(tmpdir(), 'meshlet-store-'));
  const store = openSqliteStore({ dir, now, sync: 'full' });
  const close = store.close.bind(store);
  // The directory goes with the store.
  store.close = async () => {
    try {
      await close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  return store;
});

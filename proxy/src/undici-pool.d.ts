// undici's Pool module by its path (pools.ts): its types are those of the package's Pool.
declare module 'undici/lib/dispatcher/pool.js' {
  import type { Pool } from 'undici';
  const PoolClass: typeof Pool;
  export default PoolClass;
}

// Writes the dashboards as JSON into grafana/dashboards/ (`npm run dashboards -w deploy`), or with
// `--check` only says which committed files differ from what the TypeScript builds (exit 1).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildDashboards, renderDashboard } from './dashboards.ts';

export const DASHBOARDS_DIR = join(import.meta.dirname, '..', 'dashboards');

/** Files whose committed JSON is missing or differs from the build. */
export async function staleDashboards(dir = DASHBOARDS_DIR): Promise<string[]> {
  const stale: string[] = [];
  for (const { file, dashboard } of buildDashboards()) {
    const committed = await readFile(join(dir, file), 'utf8').catch(() => null);
    if (committed !== renderDashboard(dashboard)) stale.push(file);
  }
  return stale;
}

async function main(argv: string[]): Promise<void> {
  if (argv.includes('--check')) {
    const stale = await staleDashboards();
    if (stale.length > 0) {
      process.stderr.write(`stale dashboards (run npm run dashboards -w deploy): ${stale.join(', ')}\n`);
      process.exitCode = 1;
    }
    return;
  }
  for (const { file, dashboard } of buildDashboards()) {
    await writeFile(join(DASHBOARDS_DIR, file), renderDashboard(dashboard));
    process.stderr.write(`wrote ${join(DASHBOARDS_DIR, file)}\n`);
  }
}

if (import.meta.main) await main(process.argv.slice(2));

// How much load `meshlet bench` can drive compared with plain autocannon and wrk, and how well it holds
// an arrival rate. Everything runs side by side in one go against one target process, rounds alternate
// so machine noise hits every tool alike; read the ratios, not the absolute numbers.
//
//   node bench/loadtest/overhead.ts [--seconds 5] [--rounds 2] [--connections 10]
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = join(import.meta.dirname, '..', '..');
const MESHLET = join(ROOT, 'bin', 'meshlet.js');

// Child modes: the target server, and plain autocannon (each in its own process, like the harness).
if (process.argv[2] === '--target') {
  let count = 0;
  const arrivals: number[] = [];
  const server = createServer((req, res) => {
    if (req.url === '/__arrivals') {
      res.end(JSON.stringify(arrivals.splice(0)));
      return;
    }
    count++;
    if (req.url === '/timed') arrivals.push(performance.now());
    res.end('ok');
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
  process.on('SIGTERM', () => {
    process.stderr.write(`target served ${count}\n`);
    process.exit(0);
  });
} else if (process.argv[2] === '--autocannon') {
  const { default: autocannon } = await import('autocannon');
  const result = await autocannon({ url: process.argv[3] as string, connections: Number(process.argv[4]), duration: Number(process.argv[5]) });
  process.stdout.write(JSON.stringify({ rps: result.requests.total / result.duration, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.non2xx }));
} else {
  await main();
}

interface Sample {
  rps: number;
  p50: number;
  p99: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '2' }, connections: { type: 'string', default: '10' } } });
  const seconds = Number(values.seconds);
  const rounds = Number(values.rounds);
  const connections = Number(values.connections);
  const target = spawn(process.execPath, [import.meta.filename, '--target'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve) => target.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())));
  const url = `http://127.0.0.1:${port}/`;
  const hasWrk = spawnSync('wrk', ['--version']).error === undefined;
  try {
    const samples: Record<string, Sample[]> = { 'autocannon (plain)': [], 'meshlet bench': [] };
    if (hasWrk) samples.wrk = [];
    for (let round = 0; round < rounds; round++) {
      samples['autocannon (plain)']?.push(JSON.parse(run(process.execPath, [import.meta.filename, '--autocannon', url, String(connections), String(seconds)])) as Sample);
      samples['meshlet bench']?.push(meshletClosed(url, connections, seconds));
      if (hasWrk) samples.wrk?.push(wrk(url, connections, seconds));
    }
    process.stdout.write(`\nClosed loop, ${connections} connections, ${seconds} s, ${rounds} rounds (median of rounds); target: node:http "ok"\n\n`);
    process.stdout.write('| generator | req/s | p50 ms | p99 ms | req/s vs plain autocannon |\n| --- | ---: | ---: | ---: | ---: |\n');
    const base = median((samples['autocannon (plain)'] ?? []).map((s) => s.rps));
    for (const [name, list] of Object.entries(samples)) {
      const rps = median(list.map((s) => s.rps));
      process.stdout.write(`| ${name} | ${rps.toFixed(0)} | ${median(list.map((s) => s.p50)).toFixed(2)} | ${median(list.map((s) => s.p99)).toFixed(2)} | ${(rps / base).toFixed(2)} |\n`);
    }

    process.stdout.write(`\nArrival rate held by meshlet bench (${seconds} s each)\n\n`);
    process.stdout.write('| target req/s | sent | planned | dropped | achieved req/s | busiest 100 ms (req) | even spread would be |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n');
    for (const rate of [50, 500, 2000]) {
      const summary = meshlet([`${url}timed`, '--rate', String(rate), '--duration', `${seconds}s`, '-c', String(Math.max(10, rate / 50)), '-q', '--summary-export', '-']);
      const arrivals = JSON.parse(await (await fetch(`${url}__arrivals`)).text()) as number[];
      const first = Math.min(...arrivals);
      const windows = new Map<number, number>();
      for (const at of arrivals) windows.set(Math.floor((at - first) / 100), (windows.get(Math.floor((at - first) / 100)) ?? 0) + 1);
      const sent = summary.metrics.http_reqs?.values.count ?? 0;
      const dropped = summary.metrics.dropped_iterations?.values.count ?? 0;
      process.stdout.write(`| ${rate} | ${sent} | ${rate * seconds} | ${dropped} | ${(sent / seconds).toFixed(1)} | ${Math.max(...windows.values())} | ${(rate / 10).toFixed(0)} |\n`);
    }
  } finally {
    target.kill('SIGTERM');
  }
}

interface SummaryJson {
  metrics: Record<string, { values: Record<string, number> } | undefined>;
}

function meshlet(args: string[]): SummaryJson {
  return JSON.parse(run(process.execPath, [MESHLET, 'bench', ...args])) as SummaryJson;
}

function meshletClosed(url: string, connections: number, seconds: number): Sample {
  const s = meshlet([url, '-c', String(connections), '-d', `${seconds}s`, '-q', '--summary-export', '-']);
  const d = s.metrics.http_req_duration?.values ?? {};
  return { rps: s.metrics.http_reqs?.values.rate ?? 0, p50: d.med ?? 0, p99: d['p(99)'] ?? 0 };
}

function wrk(url: string, connections: number, seconds: number): Sample {
  const out = run('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', url]);
  const ms = (label: string): number => {
    const m = new RegExp(`${label}\\s+([\\d.]+)(us|ms|s)`).exec(out);
    if (m === null) return NaN;
    const v = Number(m[1]);
    return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
  };
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN), p50: ms('50%'), p99: ms('99%') };
}

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0 && result.status !== 99) throw new Error(`${command} ${args.join(' ')} failed (${result.status}): ${result.stderr}`);
  return result.stdout;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

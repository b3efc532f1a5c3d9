// The demo shop end to end: brought up the way `npm run demo` does it (runDemo: `meshlet up -d`, the
// real runtime with runc containers on a bridge, real sidecars, the real collector, the shopper's load),
// on a test-only mesh name, bridge, subnets and ports. One mesh serves scenarios 1–5 (a mesh costs a
// minute to bring up); the last one takes it down and checks that nothing is left.
//
//   5 no propagation · 4 blue-green · 1 fault origin · 3 slow dependency · 2 crash · 6 clean exit
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FailuresResponse, GraphResponse, TraceDetail, TraceSearchResponse } from '@meshlet/wire';
import { REPO_ROOT, runDemo } from '../demo.ts';
import { added, api, drive, freePort, hostListing, meshlet, MESHLET, needsRoot, paths, uniqueNetwork, waitFor, writeTestSpec, type HostListing } from './mesh-e2e.ts';
import { spawn } from 'node:child_process';

interface Pod {
  name: string;
  service: string;
  ip: string;
  ready: boolean;
  state: string;
  restarts: number;
  appPid?: number;
  sidecarPid?: number;
  netns?: string;
  veth?: string;
}

test('the demo shop on a real mesh: the six scenarios', { skip: needsRoot, timeout: 15 * 60_000 }, async (t) => {
  const net = uniqueNetwork();
  const stateDir = await mkdtemp(join(tmpdir(), 'meshlet-e2e-state-'));
  const specDir = await mkdtemp(join(tmpdir(), 'meshlet-e2e-spec-'));
  const ports = { gateway: await freePort(), ui: await freePort() };
  const uiUrl = `http://127.0.0.1:${ports.ui}`;
  const gateway = `http://127.0.0.1:${ports.gateway}`;
  const mark = (what: string) => t.diagnostic(`${new Date().toISOString()} ${what}`);

  // Cleanup runs even when an assertion fails: the mesh, the daemon of this state root, the temp dirs.
  t.after(async () => {
    await meshlet(['down', net.mesh], stateDir, 180_000);
    const pid = await readFile(join(stateDir, 'daemon.pid'), 'utf8').catch(() => '');
    if (/^\d+/.test(pid)) {
      try {
        process.kill(Number(pid), 'SIGTERM');
      } catch {
        // gone already
      }
    }
    await rm(stateDir, { recursive: true, force: true });
    await rm(specDir, { recursive: true, force: true });
  });

  const before = await hostListing([stateDir]);
  const specFile = await writeTestSpec(specDir, net, ports);
  const demo = await runDemo({ specFile, stateDir, build: false, timeoutMs: 300_000, say: mark });
  assert.ok(demo.ok, demo.problem);
  mark(`mesh up after ${demo.upMs} ms, graph with traffic after ${demo.trafficMs} ms`);

  const pods = async (): Promise<Pod[]> => {
    const r = await meshlet(['ps', '-o', 'json', '--mesh', net.mesh], stateDir);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { pods: Pod[] }[])[0]?.pods ?? [];
  };
  const during = await hostListing([stateDir]);
  const podList = await pods();
  const failures = (query: string) => api<FailuresResponse>(uiUrl, `${paths.failures}?${query}`);
  const cli = async (...args: string[]) => {
    const r = await meshlet([...args, '--mesh', net.mesh], stateDir);
    assert.equal(r.code, 0, `meshlet ${args.join(' ')}: ${r.stderr}`);
  };

  await t.test('5. a service that drops trace headers is flagged as not propagating context', async () => {
    const graph = await waitFor(
      'recommendations in the graph',
      async () => {
        const g = await api<GraphResponse>(uiUrl, `${paths.graph}?lookbackMs=120000`);
        return g.nodes.some((n) => n.service === 'recommendations' && n.requests > 0) ? g : undefined;
      },
      60_000,
    );
    const flagged = graph.nodes.filter((n) => n.dropsContext).map((n) => n.service);
    assert.deepEqual(flagged, ['recommendations']);
    // The sidecar counts it too (its admin port answers from the host).
    const rec = podList.find((p) => p.service === 'recommendations') as Pod;
    const metrics = await (await fetch(`http://${rec.ip}:15000/metrics`)).text();
    const count = /^meshlet_context_not_propagated_total\{[^}]*\} (\d+)/m.exec(metrics);
    assert.ok(count !== null && Number(count[1]) > 0, 'meshlet_context_not_propagated_total > 0');
    // Its calls start traces of their own, which name it; a product page's trace ends at it.
    const traces = (await api<TraceSearchResponse>(uiUrl, `${paths.traces}?service=recommendations&lookbackMs=120000&limit=20`)).traces;
    const own = traces.find((x) => x.rootService === 'recommendations');
    const page = traces.find((x) => x.rootService !== 'recommendations');
    assert.ok(own !== undefined && page !== undefined, JSON.stringify(traces.map((x) => x.rootService)));
    assert.deepEqual((await api<TraceDetail>(uiUrl, paths.trace(own.traceId))).dropsContext, ['recommendations']);
    const pageSpans = (await api<TraceDetail>(uiUrl, paths.trace(page.traceId))).spans;
    const recServer = pageSpans.find((s) => s.service === 'recommendations' && s.kind === 'server');
    assert.ok(recServer !== undefined);
    assert.deepEqual(pageSpans.filter((s) => s.parentSpanId === recServer.spanId), [], 'nothing below recommendations in the page trace');
  });

  await t.test('4. blue-green: catalog shifts from blue to green in steps under load, zero failed requests, both versions in the graph', async () => {
    // bench/k6's blue-green watcher, shortened, against the published gateway.
    const watcher = JSON.parse(await readFile(join(REPO_ROOT, 'bench', 'k6', 'scenarios', 'blue-green.json'), 'utf8')) as { baseUrl: string; options: { scenarios: { watch: { duration: string } } } };
    watcher.baseUrl = gateway;
    watcher.options.scenarios.watch.duration = '36s';
    const scenarioFile = join(specDir, 'blue-green.json');
    await writeFile(scenarioFile, JSON.stringify(watcher));
    const summaryFile = join(specDir, 'blue-green-summary.json');
    const bench = new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [MESHLET, 'bench', '--scenario', scenarioFile, '--summary-export', summaryFile, '-q', '--max-requests', '2000'], { stdio: 'ignore', timeout: 120_000 });
      child.on('close', resolve);
    });
    const shiftFrom = Date.now();
    let both: GraphResponse | undefined;
    for (const [blue, green] of [[90, 10], [50, 50], [10, 90], [0, 100]] as const) {
      await new Promise((r) => setTimeout(r, 6_000));
      await cli('traffic', 'catalog', `blue=${blue}`, `green=${green}`);
      mark(`catalog blue=${blue} green=${green}`);
      if (blue === 10) {
        both = await api<GraphResponse>(uiUrl, `${paths.graph}?from=${shiftFrom}&to=${Date.now()}`);
      }
    }
    const code = await bench;
    const summary = JSON.parse(await readFile(summaryFile, 'utf8')) as { metrics: Record<string, { values: Record<string, number> }> };
    const m = summary.metrics;
    const shown = JSON.stringify(Object.fromEntries(['http_reqs', 'http_req_failed', 'dropped_iterations', 'catalog_version{version:blue}', 'catalog_version{version:green}'].map((k) => [k, m[k]?.values])));
    mark(`blue-green watcher (exit ${code}): ${shown}`);
    // 20/s for 36 s is 720; on a loaded 2-core machine the arrival-rate executor drops iterations when
    // its VUs are all waiting (k6 counts those as dropped, not failed). Enough must have run to span the shift.
    assert.ok((m['http_reqs']?.values['count'] ?? 0) > 200, `the watcher ran: ${shown}`);
    const failedMeanwhile = (await failures(`from=${shiftFrom}&to=${Date.now()}`)).points.map((p) => `${p.id} ×${p.count}: ${p.message}`);
    assert.equal(m['http_req_failed']?.values['passes'], 0, `zero failed requests; failure points meanwhile: ${JSON.stringify(failedMeanwhile)}`);
    assert.ok((m['catalog_version{version:blue}']?.values['count'] ?? 0) > 0 && (m['catalog_version{version:green}']?.values['count'] ?? 0) > 0, 'both versions answered');
    assert.equal(code, 0, 'thresholds passed');
    // The graph during the shift: the catalog node and the gateway → catalog call with both versions.
    assert.ok(both !== undefined);
    assert.deepEqual(both.nodes.find((n) => n.service === 'catalog')?.versions.sort(), ['blue', 'green']);
    const edge = both.edges.find((e) => e.from === 'gateway' && e.to === 'catalog');
    assert.ok((edge?.versions['blue'] ?? 0) > 0 && (edge?.versions['green'] ?? 0) > 0, JSON.stringify(edge?.versions));
    // Nothing failed in the catalog's part of the shop meanwhile (the shopper's traffic included).
    const during = (await failures(`from=${shiftFrom}&to=${Date.now()}`)).points.filter((p) => p.lastSeenMs >= shiftFrom);
    assert.deepEqual(during.filter((p) => p.service === 'catalog' || p.propagatedBy.includes('catalog')).map((p) => p.id), []);
    await cli('traffic', 'catalog', 'blue=100', 'green=0');
  });

  await t.test('1. fault origin: an abort fault in payments is its origin within 10 s; gateway and cart only propagated it', async () => {
    const load = drive(`${gateway}/api/checkout`, { method: 'POST', body: { cartId: 'e2e', items: [{ productId: 5, quantity: 1 }] }, ratePerSecond: 4, durationMs: 14_000 });
    await new Promise((r) => setTimeout(r, 1_000));
    await cli('fault', 'payments', 'abort', 'on');
    const on = Date.now();
    const point = await waitFor(
      'payments as an origin',
      async () => (await failures(`from=${on}&service=payments&reason=fault_injected`)).points[0],
      10_000,
    );
    mark(`payments named the origin ${Date.now() - on} ms after the fault was switched on`);
    assert.equal(point.service, 'payments');
    assert.equal(point.reason, 'fault_injected');
    assert.equal(point.origin, 'proxy');
    assert.ok(point.propagatedBy.includes('cart') && point.propagatedBy.includes('gateway'), JSON.stringify(point.propagatedBy));
    await load.done;
    await cli('fault', 'payments', 'abort', 'off');
    // In its traces, gateway's and cart's spans only passed the failure on.
    const detail = await api<TraceDetail>(uiUrl, paths.trace(point.exampleTraceIds[0] as string));
    const roles = (svc: string) => new Set(detail.spans.filter((s) => s.service === svc && s.kind === 'server').map((s) => s.role));
    assert.deepEqual([...roles('gateway')], ['propagated']);
    assert.deepEqual([...roles('cart')], ['propagated']);
    const origins = detail.spans.filter((s) => s.role === 'origin');
    assert.ok(origins.length > 0 && origins.every((s) => s.reason === 'fault_injected' && s.attributes['meshlet.peer.service'] === 'payments'), JSON.stringify(origins.map((s) => [s.service, s.name, s.reason])));
    // Neither gateway nor cart is named an origin of anything since.
    const since = (await failures(`from=${on}`)).points.filter((p) => p.lastSeenMs >= on);
    assert.deepEqual(since.filter((p) => p.service === 'gateway' || p.service === 'cart').map((p) => p.id), []);
  });

  await t.test('3. slow dependency: a delay in pricing beyond its callers\' timeout is blamed on pricing with request_timeout', async () => {
    await cli('fault', 'pricing', 'slow', 'on');
    const on = Date.now();
    const load = drive(`${gateway}/api/products`, { ratePerSecond: 4, durationMs: 10_000 });
    // The shopper's checkouts reach pricing through cart too; the products driven here go through catalog.
    const point = await waitFor(
      'pricing timing out under the product pages',
      async () => (await failures(`from=${on}&service=pricing&reason=request_timeout`)).points.find((p) => p.propagatedBy.includes('catalog')),
      20_000,
    );
    const statuses = await load.done;
    await cli('fault', 'pricing', 'slow', 'off');
    const off = Date.now();
    assert.equal(point.origin, 'proxy');
    assert.ok(point.propagatedBy.includes('catalog') && point.propagatedBy.includes('gateway'), JSON.stringify(point.propagatedBy));
    // The fault reaches the sidecars within a second or so; from then on the products fail.
    assert.ok(statuses.every((s) => s === 200 || s === 502) && statuses.filter((s) => s === 502).length >= statuses.length * 0.7, `the gateway answered 502 while pricing was slow: ${JSON.stringify(statuses)}`);
    // Only pricing is blamed: no ejected gateway or catalog (circuit_open), no other origin.
    const all = (await failures(`from=${on}&to=${off}`)).points.filter((p) => p.lastSeenMs >= on);
    assert.deepEqual(all.filter((p) => p.service !== 'pricing').map((p) => p.id), []);
    assert.deepEqual([...new Set(all.map((p) => p.reason))], ['request_timeout']);
    // And once the fault is off, the shop answers again at once (nothing stayed ejected).
    await waitFor('products again', async () => ((await fetch(`${gateway}/api/products`)).status === 200 ? true : undefined), 10_000, 250);
  });

  await t.test('2. crash: inventory is killed under load, restarted; the failures meanwhile are blamed on inventory, with the restart in their traces', async () => {
    const inventory = (await pods()).find((p) => p.service === 'inventory') as Pod;
    assert.ok(inventory.appPid !== undefined && inventory.ready);
    const load = drive(`${gateway}/api/products`, { ratePerSecond: 8, durationMs: 14_000 });
    await new Promise((r) => setTimeout(r, 2_000));
    const killedAt = Date.now();
    process.kill(inventory.appPid, 'SIGKILL');
    mark(`killed inventory's app (pid ${inventory.appPid})`);
    const restarted = await waitFor(
      'inventory restarted and ready',
      async () => {
        const p = (await pods()).find((x) => x.name === inventory.name);
        return p !== undefined && p.restarts > inventory.restarts && p.ready ? p : undefined;
      },
      60_000,
    );
    assert.notEqual(restarted.appPid, inventory.appPid);
    const statuses = await load.done;
    assert.ok(statuses.some((s) => s !== 200), 'some requests failed while inventory was down');
    const points = await waitFor(
      'failures blamed on inventory',
      async () => {
        const r = await failures(`from=${killedAt}&service=inventory`);
        return r.points.length > 0 ? r.points : undefined;
      },
      15_000,
    );
    for (const p of points) assert.ok(['connect_refused', 'no_endpoints'].includes(p.reason), `${p.id}: a proxy reason`);
    // Anything else named an origin since is the legacy service that dropped the context (its calls
    // to inventory start traces of their own) — never the callers of inventory.
    const others = (await failures(`from=${killedAt}`)).points.filter((p) => p.service !== 'inventory' && p.lastSeenMs >= killedAt);
    assert.deepEqual(others.filter((p) => p.service !== 'recommendations').map((p) => p.id), []);
    // The crash and the restart are in the traces that failed (inventory has no span in most of them).
    const seen = new Set<string>();
    for (const id of points.flatMap((p) => p.exampleTraceIds)) {
      const events = (await api<TraceDetail>(uiUrl, paths.trace(id))).events.filter((e) => e.pod === inventory.name).map((e) => e.eventName ?? '');
      assert.ok(events.some((e) => ['meshlet.pod.exited', 'meshlet.pod.restarted', 'meshlet.pod.started'].includes(e)), `trace ${id}: ${JSON.stringify(events)}`);
      for (const e of events) seen.add(e);
    }
    assert.ok(seen.has('meshlet.pod.restarted'), JSON.stringify([...seen]));
    // Once it is back, the shop answers (no lingering ejection).
    await waitFor('products again', async () => ((await fetch(`${gateway}/api/products`)).status === 200 ? true : undefined), 10_000, 250);
  });

  await t.test('6. clean exit: down leaves no netns, veth, bridge, route, iptables rule, cgroup, mount, process or state behind', async () => {
    // What the mesh created, found by its names: mesh, bridge, subnets, state root, owner marker.
    const base = [net.mesh, net.bridge, `${net.subnetPrefix}.`, `${net.vipPrefix}.`, `${stateDir}/${net.mesh}`, `MESHLET_RUNTIME_OWNER=${net.mesh}.`, `ml-${net.mesh}-`];
    const mine = added(before, during, (_k, line) => base.some((m) => line.includes(m)));
    // The veths and iptables chains have hashed names: learn them from what appeared.
    const markers = [...base, ...podList.flatMap((p) => [p.veth ?? '', p.netns ?? '']).filter(Boolean)];
    for (const line of mine.iptables ?? []) for (const chain of line.match(/ML-[A-Za-z0-9]+-[A-Z]+/g) ?? []) markers.push(chain);
    const ours = (_k: keyof HostListing, line: string) => markers.some((m) => line.includes(m));
    const created = added(before, during, ours);
    for (const kind of ['netns', 'links', 'routes', 'iptables', 'cgroups', 'mounts', 'processes', 'files'] as const) {
      assert.ok((created[kind]?.length ?? 0) > 0, `the listing finds the mesh's ${kind} while it runs`);
    }
    const down = await meshlet(['down', net.mesh], stateDir, 180_000);
    assert.equal(down.code, 0, down.stderr);
    const after = await hostListing([stateDir]);
    assert.deepEqual(added(before, after, ours), {}, 'left behind after down');
    // The daemon (started by up -d with --exit-when-idle) goes too.
    const pid = Number(await readFile(join(stateDir, 'daemon.pid'), 'utf8').catch(() => '0'));
    await waitFor('the daemon to exit', () => (pid === 0 || !processAlive(pid) ? true : undefined), 20_000);
  });
});

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

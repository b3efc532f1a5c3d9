// The UI in a real Chromium against a real collector filled over OTLP with the shop fixture
// (shop-fixture.ts): graph, origin marking, the click path to a failed trace, the waterfall, search
// filters, deep links, mesh, load tests, live updates, keyboard, dark theme, empty/error states and a
// 50-service graph. Screenshots of every view go to ui/test/screenshots/.
import assert from 'node:assert/strict';
import { after, test, type TestContext } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { REASON_HINTS, type FailuresResponse, type GraphResponse, type RunsResponse, type TraceDetail, type TraceSearchResponse } from '@meshlet/wire';
import { api, screenshot, startBrowser, startCollector, watchPage, type Collector } from './harness.ts';
import { EDGES, RUNS, SERVICES, sendLiveBurst, sendPodStatus, sendShopFixture, type ShopFixture } from './shop-fixture.ts';
import { WIDE_FAILING, sendWideFixture } from './wide-fixture.ts';

// One Chromium for the whole file (it takes seconds to start on a busy machine); a fresh page per test.
let browser: Promise<BrowserContext> | undefined;
let closeBrowser: (() => Promise<void>) | undefined;
async function newPage(): Promise<Page> {
  browser ??= startBrowser((fn) => {
    closeBrowser = fn;
  });
  const page = await (await browser).newPage();
  // Generous: the machine running CI is shared and often busy.
  page.setDefaultTimeout(60_000);
  return page;
}
after(async () => {
  await closeBrowser?.();
});

/** Retries `check` until it stops throwing (or `timeoutMs` passes, then throws its last error). */
async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      return await check();
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} not reached within ${timeoutMs} ms: ${last instanceof Error ? last.message : String(last)}`);
}

/** A subtest that, when it fails, leaves a screenshot of the page as it was (`failed-<n>.png`). */
let failures = 0;
async function step(t: TestContext, page: Page, name: string, body: () => Promise<void>): Promise<void> {
  await t.test(name, async () => {
    try {
      await body();
    } catch (err) {
      await screenshot(page, `failed-${++failures}`, true).catch(() => {});
      throw err;
    }
  });
}

/** Waits until the collector has analysed the shop fixture: every service, call and failure point is in. */
async function waitForShop(collector: Collector): Promise<void> {
  await eventually(
    async () => {
      const graph = await api<GraphResponse>(collector, '/api/v1/graph');
      const services = new Set(graph.nodes.map((n) => n.service));
      for (const s of SERVICES) assert.ok(services.has(s), `graph has no node ${s} yet`);
      const edges = new Set(graph.edges.map((e) => e.id));
      for (const e of EDGES) assert.ok(edges.has(e), `graph has no edge ${e} yet`);
      const failures = await api<FailuresResponse>(collector, '/api/v1/failures');
      assert.ok(failures.points.some((p) => p.service === 'payments' && p.reason === 'app_error'), 'no payments failure point yet');
      assert.ok(failures.points.some((p) => p.service === 'reviews' && p.reason === 'no_endpoints'), 'no reviews failure point yet');
      const runs = await api<RunsResponse>(collector, '/api/v1/runs');
      assert.equal(runs.runs.length, 2, 'both load-test runs');
    },
    90_000,
    'collector analysed the shop fixture',
  );
}

async function nodeBoxes(page: Page): Promise<Map<string, { x: number; y: number; width: number; height: number }>> {
  const boxes = new Map<string, { x: number; y: number; width: number; height: number }>();
  for (const node of await page.locator('[data-testid=graph-node]').all()) {
    const service = await node.getAttribute('data-service');
    const box = await node.boundingBox();
    if (service && box) boxes.set(service, box);
  }
  return boxes;
}

function overlap(a: { x: number; y: number; width: number; height: number }, b: { x: number; y: number; width: number; height: number }): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

test('the UI against a collector filled with the shop fixture', async (t) => {
  const collector = await startCollector(t);
  const fixture: ShopFixture = await sendShopFixture(collector.otlpUrl, Date.now());
  assert.ok(fixture.paymentsFailures.length >= 5 && fixture.noEndpointsFailures.length >= 5, 'the fixture has failures of both kinds');
  await waitForShop(collector);
  const page = await newPage();
  t.after(() => page.close());
  const watch = watchPage(page);
  const base = collector.httpUrl;

  await step(t, page, 'the graph shows the services, the calls and where failures start', async () => {
    await page.goto(`${base}/`);
    await page.locator('[data-testid=graph-node]').first().waitFor();
    await eventually(async () => assert.equal(await page.locator('[data-testid=graph-node]').count(), SERVICES.length));
    const api_ = await api<GraphResponse>(collector, '/api/v1/graph');
    const shown = await page.locator('[data-testid=graph-node]').evaluateAll((els) => els.map((e) => e.getAttribute('data-service')));
    assert.deepEqual(new Set(shown), new Set(api_.nodes.map((n) => n.service)));
    const edges = await page.locator('[data-testid=graph-edge]').evaluateAll((els) => els.map((e) => e.getAttribute('data-edge')));
    assert.deepEqual(new Set(edges), new Set(api_.edges.map((e) => e.id)), 'one label per edge of the API');
    for (const e of EDGES) assert.ok(edges.includes(e), `edge ${e} drawn`);
    // payments is where the checkout failures start; reviews (no endpoints) too; gateway and cart only pass them on.
    const role = (s: string) => page.locator(`[data-testid=graph-node][data-service="${s}"]`).getAttribute('data-role');
    assert.equal(await role('payments'), 'origin');
    assert.equal(await role('reviews'), 'origin');
    assert.equal(await role('cart'), 'propagated');
    assert.equal(await role('gateway'), 'propagated');
    assert.match((await page.locator('[data-service="payments"] .svc-origin').textContent()) ?? '', /origin of \d+/);
    // Entry services sit left of the services they call (layout left to right).
    const boxes = await nodeBoxes(page);
    assert.ok(boxes.get('gateway')!.x < boxes.get('cart')!.x && boxes.get('cart')!.x < boxes.get('payments')!.x, 'left to right');
    for (const [a, boxA] of boxes) for (const [b, boxB] of boxes) if (a < b) assert.ok(!overlap(boxA, boxB), `${a} and ${b} overlap`);
    await page.locator('[data-testid=failure-starts]').waitFor();
    await screenshot(page, 'graph');
  });

  let failedTraceId = '';
  await step(t, page, 'a click on the failing call, then on a trace, lands on the origin span with its logs', async () => {
    await page.goto(`${base}/`);
    await page.locator('[data-testid=graph-edge][data-edge="cart->payments"]').click();
    assert.match(page.url(), /selected=edge%3Acart-%3Epayments|selected=edge:cart->payments/);
    const panel = page.locator('[data-testid=edge-panel]');
    await panel.waitFor();
    assert.match((await panel.textContent()) ?? '', /app error/);
    assert.ok((await panel.textContent())?.includes(REASON_HINTS.app_error), 'the reason in words');
    await panel.locator('[data-testid=edge-trace-link]').first().waitFor();
    await screenshot(page, 'graph-edge');
    await panel.locator('[data-testid=edge-trace-link]').first().click();
    await page.waitForURL(/\/traces\/[0-9a-f]{32}/);
    failedTraceId = /\/traces\/([0-9a-f]{32})/.exec(page.url())![1]!;
    await page.locator('[data-testid=waterfall]').waitFor();
    const origin = page.locator('[data-testid=span-row][data-role=origin]');
    assert.equal(await origin.count(), 1, 'one origin span');
    assert.equal(await origin.getAttribute('data-service'), 'payments');
    assert.equal(await origin.locator('[data-testid=origin-badge]').count(), 1, 'the origin span is badged');
    // Spans of gateway and cart carry the failure up: highlighted as propagated, not as origins.
    const propagated = await page.locator('[data-testid=span-row][data-role=propagated]').evaluateAll((els) => els.map((e) => e.getAttribute('data-service')));
    assert.ok(propagated.includes('cart') && propagated.includes('gateway'), `propagation path: ${propagated.join(',')}`);
    const summary = (await page.locator('[data-testid=origin-summary]').textContent()) ?? '';
    assert.match(summary, /started in payments/);
    assert.ok(summary.includes(REASON_HINTS.app_error));
    // The origin span is selected by default, with its logs.
    const detail = page.locator('[data-testid=span-detail]');
    await detail.locator('[data-testid=span-origin-callout]').waitFor();
    assert.match((await detail.locator('[data-testid=span-logs]').textContent()) ?? '', /charge failed: card processor unavailable/);
    assert.ok((await page.locator('[data-testid=log-line]').count()) > 0, 'logs inline in the waterfall');
    const trace = await api<TraceDetail>(collector, `/api/v1/traces/${failedTraceId}`);
    assert.equal(await page.locator('[data-testid=span-row]').count(), trace.spans.length, 'every span has a row');
    await screenshot(page, 'trace');
  });

  await step(t, page, 'a click on a service shows its operations, pods and failure points', async () => {
    await sendPodStatus(collector.otlpUrl, Date.now());
    await page.goto(`${base}/`);
    await page.locator('[data-testid=graph-node][data-service="payments"] button').click();
    const panel = page.locator('[data-testid=node-panel]');
    await panel.locator('[data-testid=node-failure-points]').waitFor();
    assert.match((await panel.locator('[data-testid=node-failure-points]').textContent()) ?? '', /app error.*POST \/charge/s);
    await panel.locator('[data-testid=node-operations]').waitFor();
    assert.match((await panel.locator('[data-testid=node-operations]').textContent()) ?? '', /POST \/charge/);
    await panel.locator('[data-testid=node-pods]').waitFor();
    assert.match((await panel.locator('[data-testid=node-pods]').textContent()) ?? '', /payments-1.*10\.77\.0\.9/s);
    await screenshot(page, 'graph-node');
    // From the node's failure point straight to a trace that failed there.
    await panel.locator('[data-testid=node-failure-points] a').first().click();
    await page.waitForURL(/\/traces\/[0-9a-f]{32}/);
    assert.equal(await page.locator('[data-testid=span-row][data-role=origin]').getAttribute('data-service'), 'payments');
  });

  await step(t, page, 'failures are ranked, with reasons in words and links to example traces', async () => {
    await page.goto(`${base}/failures`);
    const rows = page.locator('[data-testid=failure-row]');
    await rows.first().waitFor();
    const ids = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-point') ?? ''));
    assert.ok(ids.some((id) => id.startsWith('payments|') && id.endsWith('|app_error')));
    assert.ok(ids.some((id) => id.startsWith('reviews|') && id.endsWith('|no_endpoints')));
    assert.ok(!ids.some((id) => id.startsWith('gateway|') || id.startsWith('cart|')), 'services that only propagated are not failure points');
    const counts = await rows.evaluateAll((els) => els.map((e) => Number(e.querySelector('td.num')?.textContent?.replace(/\D/g, ''))));
    assert.deepEqual(counts, [...counts].sort((a, b) => b - a), 'ranked by count');
    const text = (await page.locator('[data-testid=failures-table]').textContent()) ?? '';
    assert.ok(text.includes(REASON_HINTS.no_endpoints));
    assert.ok((await page.locator('.sparkline').count()) >= 2, 'sparklines');
    await screenshot(page, 'failures');
    await page.locator('[data-point^="reviews|"] [data-testid=failure-example-link]').first().click();
    await page.waitForURL(/\/traces\/[0-9a-f]{32}/);
    const origin = page.locator('[data-testid=span-row][data-role=origin]');
    await origin.waitFor();
    assert.match((await page.locator('[data-testid=span-detail]').textContent()) ?? '', /no endpoints/);
  });

  await step(t, page, 'trace search filters by status, origin, reason, duration, attribute and run', async () => {
    await page.goto(`${base}/traces`);
    await page.locator('[data-testid=trace-row]').first().waitFor();
    await page.selectOption('select[name=status]', 'error');
    await page.selectOption('select[name=originService]', 'reviews');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/status=error/);
    assert.match(page.url(), /originService=reviews/);
    await eventually(async () => {
      const statuses = await page.locator('[data-testid=trace-row]').evaluateAll((els) => els.map((e) => e.getAttribute('data-status')));
      assert.ok(statuses.length > 0 && statuses.every((s) => s === 'error'), `statuses ${statuses.join(',')}`);
      const origins = await page.locator('[data-testid=trace-origins]').evaluateAll((els) => els.map((e) => e.querySelector('[data-origin-service]')?.getAttribute('data-origin-service')));
      assert.ok(origins.every((o) => o === 'reviews'), `origins ${origins.join(',')}`);
    });
    const expected = await api<TraceSearchResponse>(collector, '/api/v1/traces?status=error&originService=reviews&lookbackMs=900000');
    assert.equal(await page.locator('[data-testid=trace-row]').count(), expected.traces.length, 'as many rows as the API returns');
    assert.equal(await page.locator('[data-testid=duration-scatter] circle').count(), expected.traces.length, 'one dot per trace');
    await screenshot(page, 'traces');

    // Reason filter, by deep link.
    await page.goto(`${base}/traces?reason=request_timeout`);
    await page.locator('[data-testid=trace-row]').first().waitFor();
    const reasons = await page.locator('[data-testid=trace-origins] [data-reason]').evaluateAll((els) => els.map((e) => e.getAttribute('data-reason')));
    assert.ok(reasons.length > 0 && reasons.every((r) => r === 'request_timeout'), `reasons ${reasons.join(',')}`);

    // Duration filter, by deep link: every trace at least 400 ms.
    await page.goto(`${base}/traces?minDurationMs=400`);
    await page.locator('[data-testid=trace-row]').first().waitFor();
    const durations = await page.locator('[data-testid=trace-row]').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-duration'))));
    assert.ok(durations.length > 0 && durations.every((d) => d >= 400), `durations ${durations.join(',')}`);
    assert.equal(await page.inputValue('input[name=minDurationMs]'), '400', 'the form shows the deep-linked filter');

    // Attribute filter typed into the form: the canary run's spans carry meshlet.run.
    await page.goto(`${base}/traces`);
    await page.fill('input[name=attr]', `meshlet.run=${RUNS.canary}`);
    await page.press('input[name=attr]', 'Enter');
    await page.locator('[data-testid=attr-chip]').waitFor();
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/attr=meshlet\.run/);
    await eventually(async () => {
      const rows = await page.locator('[data-testid=trace-row]').count();
      const chips = await page.locator(`[data-testid=trace-row] .chip:has-text("${RUNS.canary}")`).count();
      assert.ok(rows > 0 && rows === chips, `${chips} of ${rows} rows are of the canary run`);
    });

    // Run filter: the same traces.
    await page.goto(`${base}/traces?run=${RUNS.baseline}&limit=500`);
    await page.locator('[data-testid=trace-row]').first().waitFor();
    const runRows = await page.locator('[data-testid=trace-row]').count();
    assert.equal(runRows, await page.locator(`[data-testid=trace-row] .chip:has-text("${RUNS.baseline}")`).count());
  });

  await step(t, page, 'deep links open each view in the state they name', async () => {
    const trace = await api<TraceDetail>(collector, `/api/v1/traces/${fixture.oomTrace.traceId}`);
    const originId = trace.origins[0]!;
    const root = trace.spans.find((s) => s.parentSpanId === null)!;
    await page.goto(`${base}/traces/${fixture.oomTrace.traceId}?span=${root.spanId}&cp=1`);
    await page.locator('[data-testid=waterfall]').waitFor();
    assert.equal(await page.locator('[data-testid=critical-toggle]').isChecked(), true, 'critical path on');
    assert.ok((await page.locator('.span-row.critical').count()) > 0, 'critical path spans marked');
    assert.ok((await page.locator('.span-row.off-critical').count()) > 0, 'other spans dimmed');
    assert.equal(await page.locator('.span-row.selected').getAttribute('data-span'), root.spanId, 'the linked span is selected');
    // Runtime events of payments-1 around the trace are shown inline.
    const events = (await page.locator('[data-testid=infra-lane]').textContent()) ?? '';
    assert.match(events, /OOM killed/);
    await screenshot(page, 'trace-critical-path');
    // The origin via keyboard: `o` selects it, `c` turns the critical path off.
    await page.locator('h1').click();
    await page.keyboard.press('o');
    await eventually(async () => assert.equal(await page.locator('.span-row.selected').getAttribute('data-span'), originId));
    assert.match(page.url(), new RegExp(`span=${originId}`));
    await page.keyboard.press('c');
    await eventually(async () => assert.equal(await page.locator('[data-testid=critical-toggle]').isChecked(), false));

    // A timeout is recorded by the caller's sidecar but blamed on the slow callee.
    await page.goto(`${base}/traces/${fixture.timeoutFailures[0]!.traceId}`);
    const timeoutSummary = page.locator('[data-testid=origin-summary]');
    await timeoutSummary.waitFor();
    assert.match((await timeoutSummary.textContent()) ?? '', /started in pricing · GET \/prices \(recorded by catalog’s sidecar\).*request timeout.*through catalog → gateway/s);

    await page.goto(`${base}/?selected=node:payments`);
    await page.locator('[data-testid=node-panel]').waitFor();
    await page.goto(`${base}/?selected=${encodeURIComponent('edge:gateway->reviews')}`);
    await page.locator('[data-testid=edge-panel]').waitFor();
    assert.match((await page.locator('[data-testid=edge-panel]').textContent()) ?? '', /no endpoints/);

    // A custom time range (around the canary run) shows the graph of that range.
    const runs = await api<RunsResponse>(collector, '/api/v1/runs');
    const canary = runs.runs.find((r) => r.runId === RUNS.canary)!;
    const from = new Date(canary.startMs - 1000).toISOString();
    const to = new Date(canary.endMs + 1000).toISOString();
    await page.goto(`${base}/?from=${from}&to=${to}`);
    await page.locator('[data-testid=graph-node]').first().waitFor();
    assert.equal(await page.inputValue('#window-select'), 'custom', 'the window picker shows the custom range');
    const ranged = await api<GraphResponse>(collector, `/api/v1/graph?from=${Date.parse(from)}&to=${Date.parse(to)}`);
    await eventually(async () => assert.equal(await page.locator('[data-testid=graph-node]').count(), ranged.nodes.length));

    await page.goto(`${base}/failures?reason=no_endpoints`);
    await page.locator('[data-testid=failure-row]').first().waitFor();
    const ids = await page.locator('[data-testid=failure-row]').evaluateAll((els) => els.map((e) => e.getAttribute('data-point') ?? ''));
    assert.ok(ids.length > 0 && ids.every((id) => id.endsWith('|no_endpoints')), ids.join(','));
    assert.equal(await page.inputValue('select[name=reason]'), 'no_endpoints', 'the form shows the deep-linked filter');

    await page.goto(`${base}/traces/${'0'.repeat(31)}1`);
    await page.locator('[data-testid=empty-state]').waitFor();
    assert.match((await page.locator('[data-testid=empty-state]').textContent()) ?? '', /No trace .* in the collector/);
  });

  await step(t, page, 'the mesh view lists pods with their network, state and resources, and recent events', async () => {
    // The runtime reports every pod every few seconds; the mesh view shows those reported in the last minute.
    await sendPodStatus(collector.otlpUrl, Date.now());
    await page.goto(`${base}/mesh`);
    await page.locator('[data-testid=pod-row]').first().waitFor();
    assert.equal(await page.locator('[data-testid=pod-row]').count(), 9);
    const payments = (await page.locator('[data-testid=pod-row][data-pod="payments-1"]').textContent()) ?? '';
    assert.match(payments, /10\.77\.0\.9/);
    assert.match(payments, /mlv09h/);
    assert.match(payments, /meshlet-shop-payments-1/);
    assert.match((await page.locator('[data-testid=pod-row][data-pod="reviews-1"]').textContent()) ?? '', /failed.*unhealthy/s);
    assert.match((await page.locator('[data-testid=mesh-events]').textContent()) ?? '', /OOM killed/);
    await screenshot(page, 'mesh', true);
  });

  await step(t, page, 'load tests: runs, percentiles over time, the run graph and failures, diff against a baseline', async () => {
    await page.goto(`${base}/runs`);
    await page.locator('[data-testid=run-row]').first().waitFor();
    assert.equal(await page.locator('[data-testid=run-row]').count(), 2);
    await screenshot(page, 'runs');
    await page.locator(`[data-testid=run-row][data-run="${RUNS.canary}"] a`).click();
    await page.waitForURL(new RegExp(`/runs/${RUNS.canary}`));
    await page.locator('[data-testid=run-summary]').waitFor();
    await page.locator('[data-testid=run-graph] [data-testid=graph-node]').first().waitFor();
    assert.ok((await page.locator('.chart svg path').count()) >= 5, 'throughput and latency lines');
    await page.selectOption('select[aria-label="Baseline run to compare with"]', RUNS.baseline);
    await page.waitForURL(new RegExp(`baseline=${RUNS.baseline}`));
    await page.locator('[data-testid=run-diff]').waitFor();
    assert.match((await page.locator('[data-testid=run-diff]').textContent()) ?? '', /p99.*(worse|better)/s);
    assert.ok((await page.locator('[data-testid=failures-table] [data-testid=failure-row]').count()) > 0, "the run's failures");
    await screenshot(page, 'run', true);
  });

  await step(t, page, 'the graph updates live without moving the services already on screen', async () => {
    await page.goto(`${base}/`);
    await page.locator('[data-testid=graph-node]').first().waitFor();
    await eventually(async () => assert.equal(await page.locator('.live-live').count(), 1, 'stream connected'), 10_000);
    // Positions in graph coordinates (React Flow's node transforms), independent of the page around the canvas.
    const positions = (): Promise<Record<string, string>> =>
      page.locator('.react-flow__node').evaluateAll((els) => Object.fromEntries(els.map((e) => [e.getAttribute('data-id') ?? '', (e as HTMLElement).style.transform])));
    const before = await positions();
    const viewport = await page.locator('.react-flow__viewport').evaluate((e) => (e as HTMLElement).style.transform);
    await sendLiveBurst(collector.otlpUrl, Date.now());
    await page.locator('[data-testid=graph-node][data-service="search"]').waitFor({ timeout: 60_000 });
    const after = await positions();
    for (const [service, transform] of Object.entries(before)) assert.equal(after[service], transform, `${service} moved`);
    assert.equal(await page.locator('.react-flow__viewport').evaluate((e) => (e as HTMLElement).style.transform), viewport, 'the view did not jump');
    const boxes = await nodeBoxes(page);
    for (const [a, boxA] of boxes) if (a !== 'search') assert.ok(!overlap(boxA, boxes.get('search')!), `search overlaps ${a}`);
    await screenshot(page, 'graph-live');
  });

  await step(t, page, 'keyboard: views by key, services by Tab and Enter, Escape closes', async () => {
    await page.goto(`${base}/`);
    const button = page.locator('[data-testid=graph-node][data-service="payments"] button');
    await button.focus();
    await page.keyboard.press('Enter');
    await page.locator('[data-testid=node-panel]').waitFor();
    await page.keyboard.press('Escape');
    await page.locator('[data-testid=node-panel]').waitFor({ state: 'detached' });
    await page.keyboard.press('f');
    await page.waitForURL(/\/failures/);
    await page.keyboard.press('t');
    await page.waitForURL(/\/traces$/);
    await page.getByRole('heading', { name: 'Traces' }).waitFor();
    await page.keyboard.press('/');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('name')), 'service', '/ focuses the search');
  });

  await step(t, page, 'dark theme', async () => {
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(`${base}/`);
    await page.locator('[data-testid=graph-node]').first().waitFor();
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(background, 'rgb(18, 22, 29)');
    await screenshot(page, 'graph-dark');
    await page.goto(`${base}/traces/${failedTraceId}`);
    await page.locator('[data-testid=waterfall]').waitFor();
    await screenshot(page, 'trace-dark');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  await step(t, page, 'errors say what to do', async () => {
    await page.route('**/api/v1/graph*', (route) => route.abort('connectionrefused'));
    await page.goto(`${base}/`);
    const error = page.locator('[data-testid=error-state]').first();
    await error.waitFor();
    assert.match((await error.textContent()) ?? '', /Cannot reach the collector.*meshlet collector/s);
    await screenshot(page, 'error');
    await page.unroute('**/api/v1/graph*');
    await error.getByRole('button', { name: 'Retry' }).click();
    await page.locator('[data-testid=graph-node]').first().waitFor();
    await page.goto(`${base}/traces?minDurationMs=abc`);
    await page.getByRole('button', { name: 'Search' }).click();
    assert.match((await page.locator('.field-error').textContent()) ?? '', /minDurationMs must be a number/);
  });

  assert.deepEqual(
    watch.problems.filter((p) => !/ERR_CONNECTION_REFUSED|Failed to load resource/.test(p)),
    [],
    'no page errors',
  );
});

test('an empty collector says how to get spans in', async (t) => {
  const collector = await startCollector(t);
  const page = await newPage();
  t.after(() => page.close());
  await page.goto(`${collector.httpUrl}/`);
  const empty = page.locator('[data-testid=empty-state]');
  await empty.waitFor();
  await eventually(async () => assert.match((await empty.textContent()) ?? '', /No spans yet — is the mesh sending to :4318\?/));
  await screenshot(page, 'empty');
  for (const view of ['failures', 'traces', 'mesh', 'runs']) {
    await page.goto(`${collector.httpUrl}/${view}`);
    await page.locator('[data-testid=empty-state]').waitFor();
  }
});

test('a 50-service graph stays readable', async (t) => {
  const collector = await startCollector(t);
  const { services } = await sendWideFixture(collector.otlpUrl, Date.now());
  await eventually(
    async () => {
      const graph = await api<GraphResponse>(collector, '/api/v1/graph');
      assert.equal(graph.nodes.length, services.length);
      assert.ok(graph.nodes.some((n) => n.service === WIDE_FAILING && n.originFailures > 0));
    },
    90_000,
    'collector analysed the 50-service fixture',
  );
  const page = await newPage();
  t.after(() => page.close());
  await page.goto(`${collector.httpUrl}/`);
  await eventually(async () => assert.equal(await page.locator('[data-testid=graph-node]').count(), 50));
  const boxes = await nodeBoxes(page);
  const list = [...boxes.entries()];
  for (let i = 0; i < list.length; i++) for (let j = i + 1; j < list.length; j++) assert.ok(!overlap(list[i]![1], list[j]![1]), `${list[i]![0]} overlaps ${list[j]![0]}`);
  assert.equal(await page.locator(`[data-testid=graph-node][data-service="${WIDE_FAILING}"]`).getAttribute('data-role'), 'origin');
  await screenshot(page, 'graph-50');
  // Zoomed in on the failing service, names and numbers are legible.
  await page.locator(`[data-testid=graph-node][data-service="${WIDE_FAILING}"] button`).click();
  await page.locator('[data-testid=node-panel]').waitFor();
  await screenshot(page, 'graph-50-selected');
});

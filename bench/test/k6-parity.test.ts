// The k6 scripts and `meshlet bench` share the scenario files in bench/k6/scenarios/. These tests load
// each file through both readers (the harness's TypeScript and the k6 side's plain JavaScript, which
// has no k6 import and so runs in Node) and check they send the same requests, judge responses the
// same way, and tag runs and announce them to the collector with the same names.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { ATTR, EVENT_NAME_ATTR, INFRA_EVENTS, LOADTEST_ATTR, RESOURCE } from '@meshlet/wire';
import { newRunId, withRunBaggage } from '../src/baggage.ts';
import { checkPasses, tallyValue, weightedSequence } from '../src/runner.ts';
import { parseScenarioFile, tallySeenMetric, type LoadTest } from '../src/scenario.ts';
import { ROOT } from './helpers.ts';

const K6 = join(ROOT, 'bench', 'k6');

interface K6CheckDef {
  status?: number | number[];
  bodyIncludes?: string;
  bodyMatches?: string;
}
interface K6Lib {
  prepare(file: unknown, baseUrl: string | undefined): {
    name: string;
    baseUrl: string;
    timeout: string;
    sequence: { name: string; method: string; url: string; headers: Record<string, string>; baggage: string | undefined; body: string | null; checks: [string, K6CheckDef][] }[];
    tally: { metric: string; tag: string; header?: string; jsonField?: string } | undefined;
  };
  checkPasses(check: K6CheckDef, status: number, body: string): boolean;
  withRunBaggage(existing: string | undefined, runId: string): string;
  tallyValue(tally: { header?: string; jsonField?: string }, status: number, body: string, headers: Record<string, string>): string;
  newRunId(name: string, now: Date, random: () => number): string;
  otlpLogsRequest(eventName: string, body: string, attributes: Record<string, string | number | boolean>, timeMs: number): {
    resourceLogs: { resource: { attributes: { key: string; value: Record<string, unknown> }[] }; scopeLogs: { logRecords: { timeUnixNano: string; eventName: string; attributes: { key: string; value: Record<string, unknown> }[] }[] }[] }[];
  };
}

// A variable specifier: the k6 library is plain JavaScript outside the TypeScript project.
const k6LibPath = pathToFileURL(join(K6, 'lib', 'scenario.js')).href;
const k6 = (await import(k6LibPath)) as K6Lib;

async function scenarioFiles(): Promise<string[]> {
  return (await readdir(join(K6, 'scenarios'))).filter((f) => f.endsWith('.json')).sort();
}

async function both(file: string): Promise<{ harness: LoadTest; lib: ReturnType<K6Lib['prepare']>; raw: unknown }> {
  const text = await readFile(join(K6, 'scenarios', file), 'utf8');
  const result = parseScenarioFile(text, { userAgent: 'parity' });
  assert.ok(result.ok, `${file}: ${JSON.stringify(!result.ok && result.problems)}`);
  const raw: unknown = JSON.parse(text);
  return { harness: result.test, lib: k6.prepare(raw, undefined), raw };
}

test('every shipped scenario file is valid for the harness and has a k6 script that reads it', async () => {
  const files = await scenarioFiles();
  assert.deepEqual(files, ['blue-green.json', 'smoke.json', 'spike.json', 'steady.json']);
  for (const file of files) {
    await both(file);
    const script = await readFile(join(K6, file.replace('.json', '.js')), 'utf8');
    assert.ok(script.includes(`open('./scenarios/${file}')`), `${file} is read by its k6 script`);
    assert.match(script, /export const options = test\.options;/);
    assert.match(script, /export default test\.iteration;/);
  }
});

test('k6 and the harness send the same request sequence', async () => {
  for (const file of await scenarioFiles()) {
    const { harness, lib } = await both(file);
    const expected = weightedSequence(harness.requests).map((r) => ({
      name: r.name,
      method: r.method,
      url: harness.baseUrl + r.path,
      headers: r.headers,
      body: r.body ?? null,
      checks: r.checks.map((c) => c.name),
    }));
    const actual = lib.sequence.map((r) => ({ name: r.name, method: r.method, url: r.url, headers: r.headers, body: r.body, checks: r.checks.map(([name]) => name) }));
    assert.deepEqual(actual, expected, file);
    assert.equal(lib.baseUrl, harness.baseUrl);
  }
  // BASE_URL (k6) and --base-url (harness) override the file the same way.
  const text = await readFile(join(K6, 'scenarios', 'steady.json'), 'utf8');
  const r = parseScenarioFile(text, { userAgent: 'p', baseUrl: 'http://127.0.0.1:18080/' });
  assert.ok(r.ok);
  assert.equal(k6.prepare(JSON.parse(text), 'http://127.0.0.1:18080/').baseUrl, r.test.baseUrl);
});

test('k6 and the harness judge responses with the same checks', async () => {
  const responses: [number, string][] = [
    [200, '{"products":[{"id":1}]}'],
    [201, ''],
    [500, '{"error":"boom"}'],
    [0, ''],
  ];
  for (const file of await scenarioFiles()) {
    const { harness, lib } = await both(file);
    const sequence = weightedSequence(harness.requests);
    lib.sequence.forEach((request, i) => {
      request.checks.forEach(([name, def], j) => {
        const spec = sequence[i]?.checks[j];
        assert.equal(spec?.name, name);
        for (const [status, body] of responses) {
          assert.equal(k6.checkPasses(def, status, body), checkPasses(spec, status, body), `${file} ${name} on ${status} ${body}`);
        }
      });
    });
  }
});

test('k6 and the harness tag runs with the same baggage and ids, and tally the same way', () => {
  for (const existing of [undefined, '', 'tenant=acme', 'a=1, meshlet.run=old ,b=2;p=1', 'x=%20y,meshlet.run=a,meshlet.run=b']) {
    assert.equal(k6.withRunBaggage(existing, 'run-1'), withRunBaggage(existing, 'run-1'), String(existing));
  }
  const at = new Date(Date.UTC(2025, 5, 6, 7, 8, 9));
  assert.equal(k6.newRunId('steady', at, () => 0.25), newRunId('steady', at, () => 0.25));
  const cases: [number, string, Record<string, string>][] = [
    [200, '{"version":"green"}', { 'X-Catalog-Version': 'blue' }],
    [200, '{"meta":{"v":2}}', {}],
    [200, 'not json', {}],
    [0, '', {}],
  ];
  for (const tally of [{ metric: 'm', tag: 'version', header: 'x-catalog-version' }, { metric: 'm', tag: 'v', jsonField: 'version' }, { metric: 'm', tag: 'v', jsonField: 'meta.v' }]) {
    for (const [status, body, headers] of cases) {
      assert.equal(k6.tallyValue(tally, status, body, headers), tallyValue(tally, status, body, headers), `${JSON.stringify(tally)} ${body}`);
    }
  }
});

test('the k6 side announces runs with the names the collector reads (wire/)', async () => {
  const request = k6.otlpLogsRequest(INFRA_EVENTS.loadTestStarted, 'x', { [ATTR.run]: 'r', [LOADTEST_ATTR.requests]: 3, [LOADTEST_ATTR.thresholdsPassed]: true }, 1_700_000_000_123);
  const resource = request.resourceLogs[0]?.resource.attributes.map((a) => a.key);
  assert.deepEqual(resource, [RESOURCE.serviceName, RESOURCE.component]);
  const record = request.resourceLogs[0]?.scopeLogs[0]?.logRecords[0];
  assert.equal(record?.timeUnixNano, '1700000000123000000');
  assert.equal(record?.eventName, INFRA_EVENTS.loadTestStarted);
  assert.deepEqual(record?.attributes, [
    { key: EVENT_NAME_ATTR, value: { stringValue: INFRA_EVENTS.loadTestStarted } },
    { key: ATTR.run, value: { stringValue: 'r' } },
    { key: LOADTEST_ATTR.requests, value: { intValue: '3' } },
    { key: LOADTEST_ATTR.thresholdsPassed, value: { boolValue: true } },
  ]);
  // meshlet.js cannot import wire/: it spells the names out, so check it spells them right.
  const script = await readFile(join(K6, 'lib', 'meshlet.js'), 'utf8');
  for (const name of [INFRA_EVENTS.loadTestStarted, INFRA_EVENTS.loadTestFinished, ATTR.run, ...Object.values(LOADTEST_ATTR)]) {
    assert.ok(script.includes(`'${name}'`), `meshlet.js uses ${name}`);
  }
  // A tally's two metrics are named alike on both sides.
  assert.ok(script.includes(`new Trend(\`\${test.tally.metric}${tallySeenMetric({ metric: '', tag: 'v' })}\`, true)`), 'k6 names the seen trend <metric>_at');
});

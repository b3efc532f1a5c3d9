// @ts-check
// Runs a meshlet scenario file in k6: its `options` become the script's options, every iteration sends
// the next request of the sequence with `baggage: meshlet.run=<id>` and runs the file's checks, and
// with MESHLET_COLLECTOR set the run is announced to the collector like `meshlet bench` does.
//
// Environment (k6 -e NAME=value):
//   BASE_URL            where requests go (default: the file's baseUrl, else http://127.0.0.1:8080)
//   MESHLET_RUN_ID      the run id (default: generated in setup(); set it to also send the finished event)
//   MESHLET_COLLECTOR   OTLP/HTTP endpoint of the collector, e.g. http://127.0.0.1:4318
//   SUMMARY_JSON        also write k6's summary data to this file
import { check } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter, Trend } from 'k6/metrics';
import { briefSummary, logsEndpoint, newRunId, otlpLogsRequest, prepare, tallyValue, thresholdsPassed, withRunBaggage, checkPasses } from './scenario.js';

/**
 * @typedef {import('./scenario.js').ScenarioFile} ScenarioFile
 * @typedef {import('./scenario.js').SummaryData} SummaryData
 * @typedef {{ runId: string }} RunData
 */

/**
 * Builds a k6 test from a scenario file's text. Call it in the init context:
 * `const test = loadTest(open('./scenarios/steady.json'));`
 * @param {string} text
 */
export function loadTest(text) {
  /** @type {(text: string) => ScenarioFile} */
  const parseScenario = JSON.parse;
  const file = parseScenario(text);
  const test = prepare(file, __ENV.BASE_URL);
  // k6 metrics must be created in the init context.
  // A tally: responses by value, and when each value answered (`<metric>_at`, ms since the start).
  const tally = test.tally === undefined ? undefined : { spec: test.tally, counter: new Counter(test.tally.metric), seen: new Trend(`${test.tally.metric}_at`, true) };
  const collector = __ENV.MESHLET_COLLECTOR;

  /**
   * @param {string} eventName
   * @param {string} body
   * @param {Record<string, string | number | boolean>} attributes
   */
  const announce = (eventName, body, attributes) => {
    if (!collector) return;
    const res = http.post(logsEndpoint(collector), JSON.stringify(otlpLogsRequest(eventName, body, attributes, Date.now())), {
      headers: { 'content-type': 'application/json' },
      tags: { name: 'meshlet.loadtest event' },
    });
    if (res.status !== 200) console.warn(`could not send ${eventName} to ${collector}: status ${res.status} ${res.error}`);
  };
  /** @param {string} runId */
  const identity = (runId) => ({ 'meshlet.run': runId, 'meshlet.loadtest.name': test.name, 'meshlet.loadtest.target': test.baseUrl });

  return {
    /** @type {import('k6/options').Options} */
    options: file.options || {},

    /** @returns {RunData} */
    setup: () => {
      const runId = __ENV.MESHLET_RUN_ID || newRunId(test.name, new Date(), Math.random);
      announce('meshlet.loadtest.started', `load test ${test.name} started (run ${runId})`, identity(runId));
      return { runId };
    },

    /** @param {RunData} data */
    iteration: (data) => {
      const request = test.sequence[exec.scenario.iterationInTest % test.sequence.length];
      const res = http.request(request.method, request.url, request.body, {
        headers: { ...request.headers, baggage: withRunBaggage(request.baggage, data.runId) },
        tags: { name: request.name },
        timeout: test.timeout,
      });
      const body = typeof res.body === 'string' ? res.body : '';
      if (request.checks.length > 0) {
        /** @type {Record<string, () => boolean>} */
        const checkers = {};
        for (const [name, def] of request.checks) checkers[name] = () => checkPasses(def, res.status, body);
        check(res, checkers);
      }
      if (tally !== undefined) {
        const tags = { name: request.name, [tally.spec.tag]: tallyValue(tally.spec, res.status, body, res.headers) };
        tally.counter.add(1, tags);
        tally.seen.add(exec.instance.currentTestRunDuration, tags);
      }
    },

    /** @param {SummaryData & { setup_data?: RunData }} data */
    handleSummary: (data) => {
      const runId = __ENV.MESHLET_RUN_ID || (data.setup_data && data.setup_data.runId);
      if (runId) {
        const requests = data.metrics.http_reqs ? data.metrics.http_reqs.values.count : 0;
        const errors = data.metrics.http_req_failed ? data.metrics.http_req_failed.values.passes : 0;
        const passed = thresholdsPassed(data);
        announce(
          'meshlet.loadtest.finished',
          `load test ${test.name} finished (run ${runId}): ${requests} requests, ${errors} failed, thresholds ${passed ? 'passed' : 'failed'}`,
          {
            ...identity(runId),
            'meshlet.loadtest.requests': requests,
            'meshlet.loadtest.errors': errors,
            'meshlet.loadtest.thresholds_passed': passed,
            'meshlet.loadtest.summary_json': JSON.stringify(data),
          },
        );
      } else if (collector) {
        console.warn('the run id is not known here: pass -e MESHLET_RUN_ID=<id> so the finished event can be sent');
      }
      /** @type {Record<string, string>} */
      const out = { stdout: briefSummary(data, runId || '(generated in setup)') };
      if (__ENV.SUMMARY_JSON) out[__ENV.SUMMARY_JSON] = JSON.stringify(data, null, 2);
      return out;
    },
  };
}

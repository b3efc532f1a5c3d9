// @ts-check
// Smoke test: one VU walks every request of the shop once or twice; anything failing fails the test.
// Run: k6 run -e BASE_URL=http://127.0.0.1:8080 -e MESHLET_RUN_ID=$(date +%s) -e MESHLET_COLLECTOR=http://127.0.0.1:4318 bench/k6/smoke.js
// The same scenario without k6: meshlet bench --scenario bench/k6/scenarios/smoke.json
import { loadTest } from './lib/meshlet.js';

const test = loadTest(open('./scenarios/smoke.json'));

export const options = test.options;
export const setup = test.setup;
export const handleSummary = test.handleSummary;
export default test.iteration;

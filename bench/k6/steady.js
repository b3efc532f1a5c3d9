// @ts-check
// Steady load: a constant arrival rate against the shop's gateway, with latency and error thresholds.
// Run: k6 run -e BASE_URL=http://127.0.0.1:8080 -e MESHLET_RUN_ID=$(date +%s) -e MESHLET_COLLECTOR=http://127.0.0.1:4318 bench/k6/steady.js
// The same scenario without k6: meshlet bench --scenario bench/k6/scenarios/steady.json
import { loadTest } from './lib/meshlet.js';

const test = loadTest(open('./scenarios/steady.json'));

export const options = test.options;
export const setup = test.setup;
export const handleSummary = test.handleSummary;
export default test.iteration;

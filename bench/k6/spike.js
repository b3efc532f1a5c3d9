// @ts-check
// Ramp and spike: warm up, jump to a spike, hold, drop back, and watch the shop recover.
// Run: k6 run -e BASE_URL=http://127.0.0.1:8080 -e MESHLET_RUN_ID=$(date +%s) -e MESHLET_COLLECTOR=http://127.0.0.1:4318 bench/k6/spike.js
// The same scenario without k6: meshlet bench --scenario bench/k6/scenarios/spike.json
import { loadTest } from './lib/meshlet.js';

const test = loadTest(open('./scenarios/spike.json'));

export const options = test.options;
export const setup = test.setup;
export const handleSummary = test.handleSummary;
export default test.iteration;

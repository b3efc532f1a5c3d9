// @ts-check
// Blue-green watcher: steady traffic to the catalog through the gateway while its traffic shifts between versions; counts which version answered and fails on any failed request.
// Run: k6 run -e BASE_URL=http://127.0.0.1:8080 -e MESHLET_RUN_ID=$(date +%s) -e MESHLET_COLLECTOR=http://127.0.0.1:4318 bench/k6/blue-green.js
// The same scenario without k6: meshlet bench --scenario bench/k6/scenarios/blue-green.json
import { loadTest } from './lib/meshlet.js';

const test = loadTest(open('./scenarios/blue-green.json'));

export const options = test.options;
export const setup = test.setup;
export const handleSummary = test.handleSummary;
export default test.iteration;

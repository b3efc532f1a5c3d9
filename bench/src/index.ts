// The load-test harness behind `meshlet bench`, for tests and for other tools that drive load.
export { withRunBaggage, newRunId, RUN_ID_PATTERN } from './baggage.ts';
export { BenchError, EXIT, type BenchErrorCode } from './errors.ts';
export { createRunEvents, logsEndpoint, type RunEvents, type RunIdentity, type RunResult } from './events.ts';
export { BUILTIN_METRICS, DEFAULT_TREND_STATS, MetricSet, type SummaryMetric, type ThresholdResult } from './metrics.ts';
export { planLoadTest, ratePhases, type Phase, type Plan, type ScenarioPlan, type Step } from './plan.ts';
export { runLoadTest, weightedSequence, checkPasses, tallyValue, type RunOutcome, type AbortReason } from './runner.ts';
export { parseScenarioFile, validateScenario, type LoadTest, type ScenarioFile, type RequestSpec } from './scenario.ts';
export { buildSummary, formatSummary, type K6Summary } from './summary.ts';
export { parseThresholdExpression, parseMetricKey } from './thresholds.ts';

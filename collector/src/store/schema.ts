// The SQLite schema of the store. Times: `*_ns` exact nanoseconds (INTEGER, read back as text),
// `*_us` microseconds, `*_ms` milliseconds since the epoch.

export const SCHEMA_VERSION = 4;

/**
 * Row ids of spans: `traces.id * SPANS_PER_TRACE` + the span's position in its trace (write order), so a
 * trace's spans are one range of row ids and new spans append to the table, which needs no other index.
 */
export const SPANS_PER_TRACE = 2 ** 24;

/** The traces table (DDL shared with the migration from version 1). */
const tracesTable = (name: string): string => `CREATE TABLE ${name} (
  id INTEGER PRIMARY KEY,
  trace_id TEXT NOT NULL UNIQUE,
  start_us INTEGER NOT NULL,
  end_us INTEGER NOT NULL,
  span_count INTEGER NOT NULL,
  last_received_ms INTEGER NOT NULL,
  dirty INTEGER NOT NULL DEFAULT 1,
  analysed_count INTEGER NOT NULL DEFAULT 0,
  status INTEGER,
  error_count INTEGER,
  root_service TEXT,
  root_name TEXT,
  services TEXT,
  origins TEXT,
  run TEXT
);`;

/**
 * The spans table. A row binds few values: the columns queries filter or join on, and the span itself as
 * its OTLP \`Span\` message in \`data\` (the bytes received over OTLP/protobuf, kept as they came; a span that
 * arrived as JSON is encoded the same way). \`id\`: see \`SPANS_PER_TRACE\`.
 */
const spansTable = (name: string): string => `CREATE TABLE ${name} (
  id INTEGER PRIMARY KEY,
  span_id TEXT NOT NULL,
  resource_id INTEGER NOT NULL,
  scope_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  kind INTEGER NOT NULL,
  status_code INTEGER NOT NULL,
  data BLOB NOT NULL
);`;

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

-- Resources and instrumentation scopes are interned: many spans share one.
CREATE TABLE IF NOT EXISTS resources (id INTEGER PRIMARY KEY, json TEXT NOT NULL UNIQUE, service TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS scopes (id INTEGER PRIMARY KEY, json TEXT NOT NULL UNIQUE);

${spansTable('IF NOT EXISTS spans')}
-- One row per trace; \`id\` grows with time (new spans append to the spans table), \`trace_id\` is the hex id.
${tracesTable('IF NOT EXISTS traces')}
CREATE INDEX IF NOT EXISTS traces_start ON traces (start_us);
CREATE INDEX IF NOT EXISTS traces_pending ON traces (last_received_ms) WHERE dirty = 1;
CREATE INDEX IF NOT EXISTS traces_run ON traces (run, start_us) WHERE run IS NOT NULL;

CREATE TABLE IF NOT EXISTS origins (
  trace_id TEXT NOT NULL,
  span_id TEXT NOT NULL,
  time_ms INTEGER NOT NULL,
  service TEXT NOT NULL,
  operation TEXT NOT NULL,
  reason TEXT NOT NULL,
  message TEXT NOT NULL,
  run TEXT
);
CREATE INDEX IF NOT EXISTS origins_point ON origins (service, operation, reason, time_ms);
CREATE INDEX IF NOT EXISTS origins_trace ON origins (trace_id);
CREATE INDEX IF NOT EXISTS origins_service ON origins (service, time_ms);

CREATE TABLE IF NOT EXISTS service_ops (
  service TEXT NOT NULL, operation TEXT NOT NULL, kind INTEGER NOT NULL, count INTEGER NOT NULL, last_ms INTEGER NOT NULL,
  PRIMARY KEY (service, operation, kind)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS service_versions (
  service TEXT NOT NULL, version TEXT NOT NULL, last_ms INTEGER NOT NULL, PRIMARY KEY (service, version)
) WITHOUT ROWID;

-- Aggregates: the sum of the stored traces' contributions per (kind, bucket, run, key).
CREATE TABLE IF NOT EXISTS agg (
  kind TEXT NOT NULL, bucket_ms INTEGER NOT NULL, run TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL,
  PRIMARY KEY (kind, bucket_ms, run, key)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS logs (
  id INTEGER PRIMARY KEY,
  hash TEXT NOT NULL UNIQUE,
  time_ns INTEGER NOT NULL,
  time_ms INTEGER NOT NULL,
  observed_ns INTEGER NOT NULL,
  severity_number INTEGER NOT NULL,
  severity_text TEXT NOT NULL,
  body TEXT NOT NULL,
  attrs TEXT NOT NULL,
  dropped_attrs INTEGER NOT NULL,
  flags INTEGER NOT NULL,
  trace_id TEXT,
  span_id TEXT,
  event_name TEXT,
  event TEXT,
  resource_id INTEGER NOT NULL,
  scope_id INTEGER NOT NULL,
  service TEXT NOT NULL,
  pod TEXT
);
CREATE INDEX IF NOT EXISTS logs_time ON logs (time_ms);
CREATE INDEX IF NOT EXISTS logs_trace ON logs (trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS logs_event ON logs (event, time_ms) WHERE event IS NOT NULL;
CREATE INDEX IF NOT EXISTS logs_service ON logs (service, time_ms);
`;

/**
 * Brings a version 1 database to version 2 (traces get an integer id, spans refer to it). Runs in one
 * transaction before `SCHEMA`, which then creates the new indexes.
 */
export const MIGRATE_1_TO_2 = `
${tracesTable('traces_v2')}
INSERT INTO traces_v2 (trace_id, start_us, end_us, span_count, last_received_ms, dirty, analysed_count, status, error_count,
  root_service, root_name, services, origins, run)
  SELECT trace_id, start_us, end_us, span_count, last_received_ms, dirty, analysed_count, status, error_count,
  root_service, root_name, services, origins, run FROM traces ORDER BY start_us;
DROP TABLE traces;
ALTER TABLE traces_v2 RENAME TO traces;
ALTER TABLE spans ADD COLUMN trace_ref INTEGER NOT NULL DEFAULT 0;
UPDATE spans SET trace_ref = (SELECT id FROM traces WHERE traces.trace_id = spans.trace_id);
DROP INDEX spans_trace_span;
UPDATE meta SET value = '2' WHERE key = 'schema';
`;

/**
 * Brings a version 2 database to version 3 (spans keep their OTLP \`Span\` message instead of a column per
 * field). In one transaction before \`SCHEMA\`: \`BEFORE\`, then every old row is re-encoded into
 * \`spans_v3\` (with its id) by the store, then \`AFTER\`; \`SCHEMA\` creates the index again.
 */
export const MIGRATE_2_TO_3 = {
  BEFORE: `CREATE TABLE spans_v3 (id INTEGER PRIMARY KEY, trace_ref INTEGER NOT NULL, span_id TEXT NOT NULL, resource_id INTEGER NOT NULL,
  scope_id INTEGER NOT NULL, name TEXT NOT NULL, kind INTEGER NOT NULL, status_code INTEGER NOT NULL, data BLOB NOT NULL);`,
  OLD_ROWS: `SELECT id, trace_ref, span_id, parent_span_id, resource_id, scope_id, name, kind, CAST(start_ns AS TEXT) AS start_ns,
    CAST(end_ns AS TEXT) AS end_ns, status_code, status_message, attrs, events, links, trace_state, flags, dropped_attrs,
    dropped_events, dropped_links, trace_id FROM spans ORDER BY id`,
  INSERT: 'INSERT INTO spans_v3 (id, trace_ref, span_id, resource_id, scope_id, name, kind, status_code, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  AFTER: `
DROP TABLE spans;
ALTER TABLE spans_v3 RENAME TO spans;
UPDATE meta SET value = '3' WHERE key = 'schema';
`,
};

/**
 * Brings a version 3 database to version 4 (a span's row id says its trace and position, see
 * \`SPANS_PER_TRACE\`; the (trace_ref, span_id) index goes). One transaction before \`SCHEMA\`.
 */
export const MIGRATE_3_TO_4 = `
${spansTable('spans_v4')}
INSERT INTO spans_v4 (id, span_id, resource_id, scope_id, name, kind, status_code, data)
  SELECT trace_ref * ${SPANS_PER_TRACE} + row_number() OVER (PARTITION BY trace_ref ORDER BY id) - 1, span_id, resource_id, scope_id, name, kind,
  status_code, data FROM spans;
DROP TABLE spans;
ALTER TABLE spans_v4 RENAME TO spans;
UPDATE meta SET value = '4' WHERE key = 'schema';
`;

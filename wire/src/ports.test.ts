import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ports from './ports.ts';

test('the ports of DESIGN.md', () => {
  assert.equal(ports.SIDECAR_ADMIN_PORT, 15000);
  assert.equal(ports.SIDECAR_OUTBOUND_PORT, 15001);
  assert.equal(ports.SIDECAR_INBOUND_PORT, 15006);
  assert.equal(ports.RUNTIME_CONFIG_PORT, 15010);
  assert.equal(ports.COLLECTOR_OTLP_PORT, 4318);
  assert.equal(ports.COLLECTOR_HTTP_PORT, 16686);
  assert.equal(ports.RUNTIME_CONTROL_SOCKET, '/run/meshlet/meshlet.sock');
  assert.ok(ports.DEFAULT_BRIDGE.length <= 15, 'Linux interface names are at most 15 bytes');
});

test('env var names are MESHLET_<PART>_<KEY>', () => {
  assert.equal(ports.envName('proxy', 'admin'), 'MESHLET_PROXY_ADMIN');
  assert.equal(ports.envName('collector', 'data-dir'), 'MESHLET_COLLECTOR_DATA_DIR');
});

// Infrastructure events reach the real collector (an OOM kill under a memory limit, a one-shot job's
// exit code, pod snapshots for the Mesh view), and after `kill -9` of the daemon, `meshlet down`
// removes every netns, veth, bridge, iptables rule, cgroup, mount, file and process the mesh made.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { INFRA_EVENTS, POD_ATTR, QUERY_API, RESOURCE, type LogsResponse, type MeshResponse } from '@meshlet/wire';
import { EMPTY_INVENTORY, inventory, meshFixture, meshlet, meshStatus, needsRoot, waitFor } from './helpers.ts';

test('OOM kill and job exit reach the collector; kill -9 of the daemon leaks nothing after down', { skip: needsRoot, timeout: 240_000 }, async (t) => {
  const { net, mesh, stateDir, appDir, hostPort, network } = await meshFixture(t, 'ev');
  await writeFile(
    join(appDir, 'mesh.yaml'),
    `
name: ${mesh}
${network}
telemetry: { collector: auto, ui: "127.0.0.1:0" }
services:
  hog:
    command: ["node", "app.js", "hog"]
    resources: { memory: 96Mi }
    restart: on-failure:1
  spin:
    command: ["node", "-e", "for (;;) {}"]
    resources: { cpus: 0.1 }
  job:
    command: ["node", "-e", "setTimeout(() => process.exit(3), 1000)"]
  web:
    command: ["node", "app.js"]
    port: 8080
    publish: ["127.0.0.1:${hostPort}:8080"]
    health: { http: /healthz, interval: 1s }
`,
  );
  const env = { MESHLET_RUNTIME_STATUS_INTERVAL_MS: '1000' };
  const up = await meshlet(['up', '-d', '--no-wait', '-f', join(appDir, 'mesh.yaml')], { stateDir, cwd: appDir, env });
  assert.equal(up.code, 0, up.stderr);
  const ps = () => meshStatus(stateDir, mesh);

  const job = await waitFor('the job to end', async () => (await ps()).pods.find((p) => p.name === 'job-1' && p.state === 'failed'), 60_000);
  assert.equal(job.exitCode, 3);
  const hog = await waitFor('the hog to be OOM-killed', async () => (await ps()).pods.find((p) => p.name === 'hog-1' && (p.state === 'failed' || p.state === 'exited')), 60_000);
  assert.equal(hog.exitCode, 137);
  assert.equal(hog.exitSignal, 'SIGKILL');
  assert.equal(hog.oomKills, 2, 'killed, restarted once (on-failure:1), killed again');
  assert.equal(hog.restarts, 1);
  assert.equal(hog.lastRestartReason, 'oom');

  const status = await ps();
  assert.ok(status.collector !== null && 'ui' in status.collector, 'the runtime started the collector');
  const ui = `http://${status.collector.ui}`;
  const logs = async (eventName: string, pod: string) => {
    const r = (await (await fetch(`${ui}${QUERY_API.logs}?eventName=${eventName}&pod=${pod}&lookbackMs=600000`)).json()) as LogsResponse;
    return r.logs.length > 0 ? r.logs : undefined;
  };
  const oom = await waitFor('the OOM event in the collector', () => logs(INFRA_EVENTS.oomKilled, 'hog-1'), 20_000, 500);
  assert.equal(oom[0]?.service, 'hog');
  assert.equal(oom[0]?.attributes[POD_ATTR.memoryLimitBytes], 96 * 1024 * 1024);
  assert.equal(oom[0]?.attributes[RESOURCE.podIp] ?? status.pods.find((p) => p.name === 'hog-1')?.ip, status.pods.find((p) => p.name === 'hog-1')?.ip);
  const exited = await waitFor('the job exit event in the collector', () => logs(INFRA_EVENTS.exited, 'job-1'), 20_000, 500);
  assert.equal(exited[0]?.attributes[POD_ATTR.exitCode], 3);
  const restarted = await waitFor('the restart event in the collector', () => logs(INFRA_EVENTS.restarted, 'hog-1'), 20_000, 500);
  assert.equal(restarted[0]?.attributes[POD_ATTR.restartReason], 'oom');
  const health = await waitFor('the health event in the collector', () => logs(INFRA_EVENTS.healthChanged, 'web-1'), 20_000, 500);
  assert.equal(health[0]?.attributes[POD_ATTR.healthStatus], 'healthy');
  const throttled = await waitFor('the CPU throttling event in the collector', () => logs(INFRA_EVENTS.cpuThrottled, 'spin-1'), 30_000, 500);
  assert.ok(Number(throttled[0]?.attributes[POD_ATTR.cpuThrottledSeconds]) > 0);
  // Container output is shipped too, as the app's log records.
  const output = await waitFor(
    "web-1's output in the collector",
    async () => {
      const r = (await (await fetch(`${ui}${QUERY_API.logs}?service=web&pod=web-1&lookbackMs=600000`)).json()) as LogsResponse;
      return r.logs.find((l) => l.body === 'listening on 8080');
    },
    20_000,
    500,
  );
  assert.equal(output.attributes['log.iostream'], 'stdout');
  const meshView = await waitFor(
    'pod snapshots in the Mesh view',
    async () => {
      const m = (await (await fetch(`${ui}${QUERY_API.mesh}`)).json()) as MeshResponse;
      return m.pods.find((p) => p.pod === 'web-1' && p.state === 'running') ? m : undefined;
    },
    20_000,
    500,
  );
  assert.equal(meshView.pods.find((p) => p.pod === 'web-1')?.ip, status.pods.find((p) => p.name === 'web-1')?.ip);
  assert.equal((await fetch(`http://127.0.0.1:${hostPort}/`)).status, 200);

  // kill -9 of the daemon: everything stays up, orphaned.
  const pods = status.pods.map((p) => p.name);
  const where = { stateDir, mesh, bridge: net.bridge, subnetPrefix: net.prefix, pods };
  const before = await inventory(where);
  assert.equal(before.netns.length, 4);
  assert.equal(before.links.length, 5); // bridge + 4 veths
  assert.ok(before.iptables.length >= 6, before.iptables.join('\n'));
  assert.ok(before.cgroups.length >= 4);
  assert.equal(before.mounts.length, 4);
  assert.ok(before.processes.length >= 3, before.processes.join('\n')); // collector, web's sidecar and app (at least)
  const daemonPid = Number(await readFile(join(stateDir, 'daemon.pid'), 'utf8'));
  process.kill(daemonPid, 'SIGKILL');
  await waitFor('the daemon to die', () => {
    try {
      process.kill(daemonPid, 0);
      return undefined;
    } catch {
      return true;
    }
  });
  const orphaned = await inventory(where);
  assert.deepEqual(orphaned.netns, before.netns);
  assert.ok(orphaned.processes.length >= 3);

  const down = await meshlet(['down', '--mesh', mesh], { stateDir });
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stderr, new RegExp(`mesh ${mesh}: removed`));
  assert.deepEqual(await inventory(where), EMPTY_INVENTORY);
  // A second down finds nothing to do and says so.
  const again = await meshlet(['down', '--mesh', mesh], { stateDir });
  assert.notEqual(again.code, 0);
});

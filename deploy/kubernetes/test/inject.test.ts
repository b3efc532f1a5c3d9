// `meshlet inject` on real manifests: structure of the injected pods, idempotence, opt-out, errors with
// file:line, the iptables rules (wire's generator, the runtime's too, applied in a real network namespace),
// validation of every output object against Kubernetes' schemas (kubernetes-models), and the injected
// sidecar's own flags and environment starting a real `meshlet proxy`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import type { Container, PodSpec } from 'kubernetes-types/core/v1.js';
import * as apps from 'kubernetes-models/apps/v1';
import * as batch from 'kubernetes-models/batch/v1';
import * as rbac from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import * as core from 'kubernetes-models/v1';
import { DEFAULT_SIDECAR_UID, podIptablesRules } from '@meshlet/wire';
import { INJECT_ERRORS, InjectError } from '../src/errors.ts';
import { ANNOTATIONS, injectManifests, type InjectOptions } from '../src/inject.ts';
import { ADMIN_PORT_NAME, INIT_CONTAINER, IPTABLES_ENV, PROXY_CONTAINER } from '../src/sidecar.ts';
import { http, meshletArgv, REPO_ROOT, start, waitFor } from '../../test/helpers.ts';

const run = promisify(execFile);
const fixtures = join(import.meta.dirname, 'fixtures');
const OPTIONS: InjectOptions = { image: 'meshlet/sidecar:0.1.0', collector: 'http://meshlet-collector.meshlet.svc.cluster.local:4318', outboundCidrs: ['10.96.0.0/12'] };
const GOOD = ['deployment.yaml', 'multi.yaml', 'jobs.yaml', 'list.json'];

type Obj = Record<string, unknown> & { kind: string; apiVersion: string; metadata?: { name?: string; annotations?: Record<string, string> } };

function objects(text: string): Obj[] {
  const out: Obj[] = [];
  for (const doc of parseAllDocuments(text) as unknown as { toJS(): unknown }[]) {
    const o = doc.toJS() as Obj | null;
    if (o === null) continue;
    if (o.kind === 'List') out.push(...(o.items as Obj[]));
    else out.push(o);
  }
  return out;
}

function podOf(o: Obj): { spec: PodSpec; meta: { annotations?: Record<string, string> } } | null {
  const get = (path: string[]) => path.reduce<unknown>((cur, k) => (cur as Record<string, unknown> | undefined)?.[k], o);
  const paths: Record<string, string[]> = {
    Pod: [],
    CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
    Deployment: ['spec', 'template'],
    StatefulSet: ['spec', 'template'],
    DaemonSet: ['spec', 'template'],
    ReplicaSet: ['spec', 'template'],
    Job: ['spec', 'template'],
  };
  const base = paths[o.kind];
  if (base === undefined) return null;
  return { spec: get([...base, 'spec']) as PodSpec, meta: (get([...base, 'metadata']) ?? {}) };
}

async function inject(file: string, options = OPTIONS) {
  return injectManifests(await readFile(join(fixtures, file), 'utf8'), file, options);
}

const MODELS: Record<string, { validate(): void } & (new (data: unknown) => { validate(): void })> = {
  'v1/Pod': core.Pod,
  'v1/Service': core.Service,
  'v1/ConfigMap': core.ConfigMap,
  'v1/Namespace': core.Namespace,
  'v1/ServiceAccount': core.ServiceAccount,
  'v1/PersistentVolumeClaim': core.PersistentVolumeClaim,
  'apps/v1/Deployment': apps.Deployment,
  'apps/v1/StatefulSet': apps.StatefulSet,
  'apps/v1/DaemonSet': apps.DaemonSet,
  'apps/v1/ReplicaSet': apps.ReplicaSet,
  'batch/v1/Job': batch.Job,
  'batch/v1/CronJob': batch.CronJob,
  'rbac.authorization.k8s.io/v1/ClusterRole': rbac.ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': rbac.ClusterRoleBinding,
} as never;

/** Kubernetes' OpenAPI schema (kubernetes-models), plus the API server's rules the schema cannot say. */
function validate(o: Obj): void {
  const Model = MODELS[`${o.apiVersion}/${o.kind}`];
  assert.ok(Model !== undefined, `no model for ${o.apiVersion}/${o.kind}`);
  new Model(o).validate();
  const pod = podOf(o);
  if (pod === null) return;
  const all = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  assert.equal(new Set(all.map((c) => c.name)).size, all.length, 'container names are unique in a pod');
  for (const c of all) {
    for (const p of c.ports ?? []) if (p.name !== undefined) assert.match(p.name, /^(?=.*[a-z])[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/, `port name ${p.name} is an IANA_SVC_NAME`);
  }
  for (const c of pod.spec.initContainers ?? []) {
    // Only sidecar init containers (restartPolicy: Always) may have probes.
    if (c.restartPolicy !== 'Always') assert.ok(c.readinessProbe === undefined && c.startupProbe === undefined && c.livenessProbe === undefined, `${c.name}: probes`);
    else assert.equal(c.restartPolicy, 'Always');
  }
}

test('every workload gets the iptables init container and the native sidecar first, its own containers untouched', async () => {
  const expected: Record<string, string[]> = {
    'deployment.yaml': ['Deployment/web'],
    'multi.yaml': ['StatefulSet/orders', 'DaemonSet/node-agent', 'ReplicaSet/catalog'],
    'jobs.yaml': ['Job/reindex', 'CronJob/nightly-report'],
    'list.json': ['Pod/debug'],
  };
  for (const file of GOOD) {
    const before = objects(await readFile(join(fixtures, file), 'utf8'));
    const r = await inject(file);
    assert.deepEqual(r.injected.map((w) => `${w.kind}/${w.name}`), expected[file], file);
    const after = objects(r.output);
    assert.equal(after.length, before.length, `${file}: every object is still there`);
    after.forEach((o, i) => {
      const old = before[i] as Obj;
      const pod = podOf(o);
      const oldPod = podOf(old);
      if (pod === null || oldPod === null || o.metadata?.annotations?.[ANNOTATIONS.inject] === 'false') {
        assert.deepEqual(o, old, `${file}: ${o.kind} passes through unchanged`);
        return;
      }
      const init = pod.spec.initContainers ?? [];
      assert.deepEqual(init.slice(0, 2).map((c) => c.name), [INIT_CONTAINER, PROXY_CONTAINER]);
      assert.deepEqual(init.slice(2), oldPod.spec.initContainers ?? [], 'the pod\'s own init containers follow, unchanged');
      assert.deepEqual(pod.spec.containers, oldPod.spec.containers, 'app containers unchanged');
      const proxy = init[1] as Container;
      assert.equal(proxy.restartPolicy, 'Always');
      assert.equal(proxy.readinessProbe?.httpGet?.path, '/ready');
      assert.equal(proxy.startupProbe?.httpGet?.path, '/ready');
      assert.equal(proxy.readinessProbe?.httpGet?.port, ADMIN_PORT_NAME);
      assert.equal(proxy.securityContext?.runAsUser, DEFAULT_SIDECAR_UID);
      assert.ok(proxy.ports?.some((p) => p.name === ADMIN_PORT_NAME && p.containerPort === 15000));
      const env = Object.fromEntries((proxy.env ?? []).map((e) => [e.name, e.value]));
      assert.equal(env.MESHLET_PROXY_SERVICE, pod.meta.annotations?.[ANNOTATIONS.service]);
      const initC = init[0] as Container;
      assert.deepEqual(initC.securityContext?.capabilities?.add, ['NET_ADMIN', 'NET_RAW']);
      assert.equal(initC.restartPolicy, undefined);
    });
  }
});

test('service, app port, endpoints and collector come from labels and annotations', async () => {
  const multi = await inject('multi.yaml');
  assert.deepEqual(
    multi.injected.map((w) => [w.name, w.service, w.appPort]),
    [
      ['orders', 'orders', 8080], // label app, first containerPort
      ['node-agent', 'node-agent', null], // workload annotation; no port: outbound only
      ['catalog', 'catalog', 8081], // app-port by name
    ],
  );
  const envOf = (text: string, name: string) => {
    const o = objects(text).find((x) => x.metadata?.name === name) as Obj;
    const proxy = (podOf(o)?.spec.initContainers ?? [])[1] as Container;
    return Object.fromEntries((proxy.env ?? []).map((e) => [e.name, e.value]));
  };
  assert.equal(envOf(multi.output, 'catalog').MESHLET_PROXY_COLLECTOR, 'http://otel-collector.observability.svc:4318');
  assert.equal(envOf(multi.output, 'node-agent').MESHLET_PROXY_APP, 'none');
  const web = await inject('deployment.yaml');
  assert.equal(envOf(web.output, 'web').MESHLET_PROXY_ENDPOINT, 'orders=orders.shop.svc.cluster.local:8080;catalog=catalog.shop.svc.cluster.local:8080');
  assert.equal(envOf(web.output, 'web').MESHLET_PROXY_APP, '127.0.0.1:8080');
});

test('injecting twice changes nothing; comments and layout outside the pod template survive', async () => {
  for (const file of GOOD) {
    const once = await inject(file);
    const twice = injectManifests(once.output, file, OPTIONS);
    assert.equal(twice.output, once.output, file);
  }
  const web = (await inject('deployment.yaml')).output;
  assert.match(web, /^# The shop's web front end\.\n/);
  assert.match(web, /replicas: 2 # two is enough for now/);
  // New options replace the sidecar, not add a second one.
  const again = injectManifests(web, 'web.yaml', { ...OPTIONS, image: 'meshlet/sidecar:0.2.0' });
  const pod = podOf(objects(again.output)[0] as Obj);
  assert.deepEqual(pod?.spec.initContainers?.map((c) => `${c.name} ${c.image}`), ['meshlet-init meshlet/sidecar:0.2.0', 'meshlet-proxy meshlet/sidecar:0.2.0', 'wait-for-db busybox:1.36']);
});

test('workloads annotated meshlet.dev/inject: "false" are skipped', async () => {
  const r = await inject('jobs.yaml');
  assert.deepEqual(r.skipped, [{ kind: 'CronJob', name: 'backup', reason: 'meshlet.dev/inject: false' }]);
  const backup = objects(r.output).find((o) => o.metadata?.name === 'backup') as Obj;
  assert.equal(podOf(backup)?.spec.initContainers, undefined);
});

test('bad manifests: every problem with its file and line, nothing written', async () => {
  const bad = await readFile(join(fixtures, 'bad.yaml'), 'utf8');
  assert.throws(
    () => injectManifests(bad, 'bad.yaml', OPTIONS),
    (err: unknown) => {
      assert.ok(err instanceof InjectError);
      assert.deepEqual(
        err.problems.map((p) => [p.code, p.line]),
        [
          [INJECT_ERRORS.annotation, 9], // app-port names no port
          [INJECT_ERRORS.annotation, 10], // endpoints entry without =HOST:PORT
          [INJECT_ERRORS.unsupported, 23], // hostNetwork
          [INJECT_ERRORS.manifest, 34], // no containers
          [INJECT_ERRORS.manifest, 36], // not a Kubernetes object
        ],
      );
      return true;
    },
  );
  const badSyntax = await readFile(join(fixtures, 'bad-syntax.yaml'), 'utf8');
  assert.throws(() => injectManifests(badSyntax, 'bad-syntax.yaml', OPTIONS), (err: unknown) => {
    assert.ok(err instanceof InjectError);
    assert.equal(err.code, INJECT_ERRORS.syntax);
    assert.equal(err.problems[0]?.line, 6);
    return true;
  });
  // The CLI: exit 2, the problems on stderr with file:line, nothing on stdout even for the good file.
  const r = await run(process.execPath, [...meshletArgv('inject', join(fixtures, 'deployment.yaml'), join(fixtures, 'bad.yaml')).slice(1)], { cwd: REPO_ROOT }).catch(
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
  assert.equal((r as { code?: number }).code, 2);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /bad\.yaml:23: DaemonSet node-exporter: hostNetwork/);
});

test('the CLI reads stdin and files, writes YAML (JSON for JSON input), and lists what it did', async () => {
  const child = await import('node:child_process');
  const viaStdin = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const p = child.spawn(process.execPath, meshletArgv('inject').slice(1), { cwd: REPO_ROOT });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
    void readFile(join(fixtures, 'list.json'), 'utf8').then((t) => p.stdin.end(t));
  });
  assert.equal(viaStdin.code, 0, viaStdin.stderr);
  assert.equal((JSON.parse(viaStdin.stdout) as Obj).kind, 'List');
  assert.match(viaStdin.stderr, /<stdin>: Pod\/debug: sidecar added \(service debug, outbound only\)/);
  const both = await run(process.execPath, meshletArgv('inject', '-f', join(fixtures, 'deployment.yaml'), '-f', join(fixtures, 'jobs.yaml'), '--image', 'reg.example/meshlet:1').slice(1), { cwd: REPO_ROOT });
  assert.equal(objects(both.stdout).length, 4);
  assert.ok(objects(both.stdout).every((o) => o.kind === 'CronJob' && o.metadata?.name === 'backup' ? true : podOf(o)?.spec.initContainers?.[1]?.image === 'reg.example/meshlet:1'));
  const help = await run(process.execPath, meshletArgv('inject', '--help').slice(1), { cwd: REPO_ROOT });
  assert.match(help.stdout, /meshlet\.dev\/inject: "false"/);
});

test('every output object (and the shipped manifests) validates against the Kubernetes schemas', async () => {
  let validated = 0;
  for (const file of GOOD) {
    for (const o of objects((await inject(file)).output)) {
      validate(o);
      validated++;
    }
  }
  for (const file of (await readdir(join(import.meta.dirname, '..'))).filter((f) => f.endsWith('.yaml'))) {
    for (const o of objects(await readFile(join(import.meta.dirname, '..', file), 'utf8'))) {
      validate(o);
      validated++;
    }
  }
  assert.ok(validated >= 18, `${validated} objects`);
  // The check can fail: a typo'd type in an injected container is caught.
  const broken = objects((await inject('deployment.yaml')).output)[0] as Obj;
  const proxy = (podOf(broken)?.spec.initContainers ?? [])[1] as unknown as Record<string, unknown>;
  proxy.restartPolicy = 1;
  assert.throws(() => validate(broken), /restartPolicy must be string/);
});

test('the iptables init container carries wire\'s pod rules — the generator the runtime applies in its pods', async () => {
  const o = objects((await inject('deployment.yaml')).output)[0] as Obj;
  const init = (podOf(o)?.spec.initContainers ?? [])[0] as Container;
  const rules = init.env?.find((e) => e.name === IPTABLES_ENV)?.value;
  assert.equal(
    rules,
    podIptablesRules({ sidecarUid: DEFAULT_SIDECAR_UID, inboundPort: 15006, outboundPort: 15001, inboundPorts: [8080], outboundCidrs: ['10.96.0.0/12'] }).restore,
  );
  // The runtime builds its pods' rules with that same function from @meshlet/wire (no copy of its own).
  const plan = await readFile(join(REPO_ROOT, 'runtime', 'src', 'plan.ts'), 'utf8');
  assert.match(plan, /import \{[^}]*\bpodIptablesRules\b[^}]*\} from '@meshlet\/wire'/);
  const runtimeFiles = (await readdir(join(REPO_ROOT, 'runtime', 'src'))).filter((f) => f.endsWith('.ts'));
  for (const f of runtimeFiles) assert.doesNotMatch(await readFile(join(REPO_ROOT, 'runtime', 'src', f), 'utf8'), /function podIptablesRules/, f);
});

const needsRoot = process.getuid?.() === 0 ? false : 'needs root: creates a network namespace and applies iptables rules in it';

test('the init container\'s command installs the rules in a real network namespace (and again, idempotently)', { skip: needsRoot }, async (t) => {
  const o = objects((await inject('deployment.yaml')).output)[0] as Obj;
  const init = (podOf(o)?.spec.initContainers ?? [])[0] as Container;
  const ns = `mlt-inj-${randomBytes(3).toString('hex')}`;
  await run('ip', ['netns', 'add', ns]);
  t.after(() => run('ip', ['netns', 'del', ns]).catch(() => {}));
  const env = { ...process.env, [IPTABLES_ENV]: init.env?.find((e) => e.name === IPTABLES_ENV)?.value ?? '' };
  const [cmd, ...args] = init.command as [string, ...string[]];
  for (let i = 0; i < 2; i++) await run('ip', ['netns', 'exec', ns, cmd, ...args], { env });
  const { stdout } = await run('ip', ['netns', 'exec', ns, 'iptables-save', '-t', 'nat']);
  const lines = stdout.split('\n');
  for (const rule of [
    '-A PREROUTING ! -i lo -p tcp -j MESHLET_INBOUND',
    '-A MESHLET_INBOUND -p tcp -m tcp --dport 8080 -j REDIRECT --to-ports 15006',
    '-A OUTPUT -p tcp -j MESHLET_OUTPUT',
    '-A MESHLET_OUTPUT -m owner --uid-owner 1337 -j RETURN',
    '-A MESHLET_OUTPUT -d 10.96.0.0/12 -p tcp -j REDIRECT --to-ports 15001',
  ]) {
    assert.equal(lines.filter((l) => l === rule).length, 1, `${rule} once in:\n${stdout}`);
  }
});

test('the injected sidecar\'s flags and environment start a real meshlet proxy that serves the app', async (t) => {
  const app = createServer((req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(`app saw ${req.url}`));
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => app.close(r)));
  const appPort = (app.address() as AddressInfo).port;

  const o = objects((await inject('deployment.yaml')).output)[0] as Obj;
  const proxy = (podOf(o)?.spec.initContainers ?? [])[1] as Container;
  // Same flags and variables, but loopback port 0 for the listeners, the test's app, no collector.
  const args = (proxy.args ?? []).map((a) => (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(a) ? '127.0.0.1:0' : a));
  const env = Object.fromEntries((proxy.env ?? []).map((e) => [e.name, e.value ?? '']));
  env.MESHLET_PROXY_APP = `127.0.0.1:${appPort}`;
  env.MESHLET_PROXY_COLLECTOR = 'none';
  const p = await start(t, meshletArgv('proxy', ...args, '--no-access-log'), { env, waitForListening: true });
  const admin = p.listening.admin as string;
  await waitFor('sidecar ready', async () => ((await fetch(`http://${admin}/ready`)).status === 200 ? true : undefined));
  const [host, port] = (p.listening.inbound as string).split(':') as [string, string];
  const r = await http({ host, port: Number(port), path: '/hello', headers: { host: 'web' } });
  assert.equal(r.status, 200);
  assert.equal(r.body, 'app saw /hello');
  const config = (await (await fetch(`http://${admin}/config`)).json()) as { service: string; destinations: Record<string, unknown> };
  assert.equal(config.service, 'web');
  assert.deepEqual(Object.keys(config.destinations).sort(), ['catalog', 'orders']);
});

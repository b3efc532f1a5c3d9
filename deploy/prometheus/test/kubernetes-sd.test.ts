// deploy/prometheus/prometheus-kubernetes.yml without a cluster. Debian's Prometheus is built without
// Kubernetes discovery, so the test feeds the targets that pod discovery would produce (one per container
// port, init containers included, with the documented __meta_kubernetes_pod_* labels) for pods made by
// `meshlet inject` and from deploy/kubernetes/collector.yaml, through the config's own relabelling, in a
// real Prometheus: only the sidecar's admin port and the collector's http port may survive, labelled.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse, parseAllDocuments, stringify } from 'yaml';
import type { PodSpec } from 'kubernetes-types/core/v1.js';
import { injectManifests } from '../../kubernetes/src/inject.ts';
import { startPrometheus } from '../../test/prometheus.ts';
import { DEPLOY, tempDir, waitFor } from '../../test/helpers.ts';

const run = promisify(execFile);

interface PodTemplate {
  metadata: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: PodSpec;
}

const sanitize = (name: string) => name.replace(/[^a-zA-Z0-9_]/g, '_');

/** The target groups Prometheus' `role: pod` discovery makes for one pod (its documented labels). */
function podTargets(pod: PodTemplate, o: { name: string; namespace: string; ip: string; phase: string }): { targets: string[]; labels: Record<string, string> }[] {
  const common: Record<string, string> = {
    __meta_kubernetes_namespace: o.namespace,
    __meta_kubernetes_pod_name: o.name,
    __meta_kubernetes_pod_ip: o.ip,
    __meta_kubernetes_pod_phase: o.phase,
    __meta_kubernetes_pod_ready: o.phase === 'Running' ? 'true' : 'false',
    __meta_kubernetes_pod_node_name: 'node-1',
  };
  for (const [k, v] of Object.entries(pod.metadata.labels ?? {})) {
    common[`__meta_kubernetes_pod_label_${sanitize(k)}`] = v;
    common[`__meta_kubernetes_pod_labelpresent_${sanitize(k)}`] = 'true';
  }
  for (const [k, v] of Object.entries(pod.metadata.annotations ?? {})) {
    common[`__meta_kubernetes_pod_annotation_${sanitize(k)}`] = v;
    common[`__meta_kubernetes_pod_annotationpresent_${sanitize(k)}`] = 'true';
  }
  const containers = [...pod.spec.containers.map((c) => ({ c, init: false })), ...(pod.spec.initContainers ?? []).map((c) => ({ c, init: true }))];
  return containers.flatMap(({ c, init }) => {
    const base = { ...common, __meta_kubernetes_pod_container_name: c.name, __meta_kubernetes_pod_container_image: c.image ?? '', __meta_kubernetes_pod_container_init: String(init) };
    if ((c.ports ?? []).length === 0) return [{ targets: [o.ip], labels: base }];
    return (c.ports ?? []).map((p) => ({
      targets: [`${o.ip}:${p.containerPort}`],
      labels: {
        ...base,
        __meta_kubernetes_pod_container_port_name: p.name ?? '',
        __meta_kubernetes_pod_container_port_number: String(p.containerPort),
        __meta_kubernetes_pod_container_port_protocol: p.protocol ?? 'TCP',
      },
    }));
  });
}

function template(text: string, kind: string): PodTemplate {
  const obj = parseAllDocuments(text)
    .map((d) => d.toJS() as { kind: string; spec: { template: PodTemplate } })
    .find((o) => o.kind === kind);
  assert.ok(obj !== undefined, kind);
  return obj.spec.template;
}

test('the Kubernetes scrape config keeps each injected sidecar\'s admin port and the collector, labelled', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t, 'meshlet-k8s-sd-');
  const injected = injectManifests(await readFile(join(DEPLOY, 'kubernetes', 'test', 'fixtures', 'deployment.yaml'), 'utf8'), 'deployment.yaml', {
    image: 'meshlet/sidecar:0.1.0',
    collector: 'http://meshlet-collector.meshlet.svc.cluster.local:4318',
    outboundCidrs: ['10.96.0.0/12'],
  });
  const web = template(injected.output, 'Deployment');
  const collector = template(await readFile(join(DEPLOY, 'kubernetes', 'collector.yaml'), 'utf8'), 'Deployment');
  // Loopback addresses stand in for pod IPs: nothing may be scraped off this machine.
  const groups = [
    ...podTargets(web, { name: 'web-7d9f-abcde', namespace: 'shop', ip: '127.0.0.1', phase: 'Running' }),
    ...podTargets(web, { name: 'web-7d9f-pending', namespace: 'shop', ip: '127.0.0.2', phase: 'Pending' }),
    ...podTargets(collector, { name: 'meshlet-collector-5c6b-xyz', namespace: 'meshlet', ip: '127.0.0.3', phase: 'Running' }),
  ];

  const shipped = parse(await readFile(join(DEPLOY, 'prometheus', 'prometheus-kubernetes.yml'), 'utf8')) as {
    global: Record<string, string>;
    rule_files: string[];
    scrape_configs: { job_name: string; kubernetes_sd_configs?: { role: string }[] }[];
  };
  assert.ok(shipped.scrape_configs.every((j) => j.kubernetes_sd_configs?.[0]?.role === 'pod'));
  const config = {
    ...shipped,
    // Long intervals: the test reads discovery and relabelling, not scrapes.
    global: { scrape_interval: '1h', evaluation_interval: '1h' },
    rule_files: shipped.rule_files.map((f) => join(DEPLOY, 'prometheus', f)),
    scrape_configs: shipped.scrape_configs.map(({ kubernetes_sd_configs: _sd, ...job }) => ({ ...job, static_configs: groups })),
  };
  // What Debian's promtool can check of it.
  const file = join(dir, 'k8s-static.yml');
  await writeFile(file, stringify(config));
  const check = await run('promtool', ['check', 'config', file]);
  assert.match(check.stdout + check.stderr, /SUCCESS/);

  const prom = await startPrometheus(t, dir, config);
  type Target = { labels: Record<string, string>; scrapePool: string; scrapeUrl: string };
  const targets = await waitFor('discovered targets', async () => {
    const r = await prom.get<{ data: { activeTargets: Target[]; droppedTargets: unknown[] } }>('/api/v1/targets');
    return r.data.activeTargets.length > 0 ? r.data : undefined;
  });
  const active = targets.activeTargets.map((x) => ({ pool: x.scrapePool, url: x.scrapeUrl, ...x.labels })).sort((a, b) => a.pool.localeCompare(b.pool));
  assert.deepEqual(active, [
    { pool: 'meshlet-collector', url: 'http://127.0.0.3:16686/metrics', instance: '127.0.0.3:16686', job: 'meshlet-collector', namespace: 'meshlet', pod: 'meshlet-collector-5c6b-xyz' },
    {
      pool: 'meshlet-sidecars',
      url: 'http://127.0.0.1:15000/metrics',
      instance: '127.0.0.1:15000',
      job: 'meshlet-sidecars',
      namespace: 'shop',
      node: 'node-1',
      pod: 'web-7d9f-abcde',
      service: 'web',
      version: '1.4.2',
    },
  ]);
  // Everything else was discovered and dropped: app ports, the sidecar's inbound, the init container,
  // the pending pod, and each job's view of the other's pods.
  assert.equal(targets.droppedTargets.length, groups.length * 2 - 2);
});

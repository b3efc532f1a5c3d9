// `meshlet inject`: reads Kubernetes manifests (files or stdin) and writes them with the meshlet sidecar
// added to every workload (see inject.ts), like `istioctl kube-inject` / `linkerd inject`:
//   meshlet inject -f deploy.yaml | kubectl apply -f -
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { COLLECTOR_OTLP_PORT } from '@meshlet/wire';
import { formatProblem, INJECT_ERRORS, InjectError } from './errors.ts';
import { ANNOTATIONS, injectManifests, type InjectOptions } from './inject.ts';

const VERSION = (JSON.parse(await readFile(join(import.meta.dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string }).version;

/** Defaults that match deploy/kubernetes/collector.yaml and deploy/docker (image names). */
export const DEFAULTS = Object.freeze({
  image: `meshlet/sidecar:${VERSION}`,
  collector: `http://meshlet-collector.meshlet.svc.cluster.local:${COLLECTOR_OTLP_PORT}`,
  // kubeadm's default Service CIDR; see `kubectl cluster-info dump | grep service-cluster-ip-range`.
  serviceCidr: '10.96.0.0/12',
});

interface Flags {
  filename: string[];
  output?: string;
  image: string;
  collector: string;
  serviceCidr: string[];
  quiet: boolean;
}

function program(): Command {
  const collect = (value: string, previous: string[] = []) => [...previous, value];
  return new Command('meshlet inject')
    .description('Add the meshlet sidecar to Kubernetes workloads: Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob (also in a List)')
    .argument('[files...]', 'manifest files (YAML, multi-document, or JSON); "-" or none reads stdin')
    .option('-f, --filename <file>', 'a manifest file (repeatable)', collect, [])
    .option('-o, --output <file>', 'write the result to this file instead of stdout')
    .option('--image <image>', 'image of the sidecar and its iptables init container', DEFAULTS.image)
    .option('--collector <url>', 'OTLP/HTTP URL of the collector the sidecars send spans to ("none": no export)', DEFAULTS.collector)
    .option('--service-cidr <cidr>', `the cluster's Service CIDR: the app's traffic there goes through the sidecar (repeatable; default ${DEFAULTS.serviceCidr})`, collect)
    .option('-q, --quiet', 'do not list what was injected on stderr', false)
    .addHelpText(
      'after',
      [
        '',
        'Per workload (annotations on the pod template or the workload):',
        `  ${ANNOTATIONS.inject}: "false"          leave this workload alone`,
        `  ${ANNOTATIONS.service}: NAME           the service name (default: label app.kubernetes.io/name or app, else the name)`,
        `  ${ANNOTATIONS.appPort}: PORT|none      the app's port (default: the first TCP containerPort of the first container)`,
        `  ${ANNOTATIONS.endpoints}: SVC=HOST:PORT[,HOST:PORT][;…]   services the app calls, e.g. payments=payments.shop.svc:8080`,
        `  ${ANNOTATIONS.collector}: URL|none     the collector for this workload`,
        `  ${ANNOTATIONS.outboundCidrs}: CIDR[,CIDR]   destinations captured for the sidecar (default --service-cidr)`,
        '',
        'The sidecar is a native sidecar (an init container with restartPolicy: Always, Kubernetes 1.29+),',
        'preceded by an init container that installs the pod\'s iptables rules (NET_ADMIN). Injecting',
        'twice changes nothing. Bad input is reported with file:line and nothing is written (exit 2).',
        '',
        'Examples:',
        '  meshlet inject -f shop.yaml | kubectl apply -f -',
        '  kubectl get deploy web -o yaml | meshlet inject | kubectl apply -f -',
      ].join('\n'),
    )
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('meshlet inject: reading manifests from stdin (end with Ctrl-D; or give files: meshlet inject -f FILE)\n');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function main(argv: string[]): Promise<void> {
  const cmd = program();
  try {
    cmd.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    throw err;
  }
  const flags = cmd.opts<Flags>();
  const files = [...cmd.args, ...flags.filename];
  const options: InjectOptions = {
    image: flags.image,
    collector: flags.collector === 'none' ? null : flags.collector,
    outboundCidrs: flags.serviceCidr ?? [DEFAULTS.serviceCidr],
  };
  if (options.collector !== null && !URL.canParse(options.collector)) {
    process.stderr.write(`meshlet inject: --collector: expected a URL or none, got "${options.collector}"\n`);
    process.exitCode = 2;
    return;
  }

  const outputs: string[] = [];
  const problems: string[] = [];
  const summary: string[] = [];
  for (const file of files.length === 0 ? ['-'] : files) {
    let text: string;
    try {
      text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
    } catch (err) {
      problems.push(formatProblem({ code: INJECT_ERRORS.usage, file, message: `cannot read: ${(err as Error).message}` }));
      continue;
    }
    const name = file === '-' ? '<stdin>' : file;
    try {
      const r = injectManifests(text, name, options);
      if (r.output !== '') outputs.push(r.output);
      for (const w of r.injected) summary.push(`${name}: ${w.kind}/${w.name}: sidecar added (service ${w.service}, ${w.appPort === null ? 'outbound only' : `app port ${w.appPort}`})`);
      for (const s of r.skipped) summary.push(`${name}: ${s.kind}/${s.name}: skipped (${s.reason})`);
    } catch (err) {
      if (!(err instanceof InjectError)) throw err;
      problems.push(...err.problems.map(formatProblem));
    }
  }
  if (problems.length > 0) {
    process.stderr.write(`meshlet inject: nothing written; fix these first:\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
    process.exitCode = 2;
    return;
  }
  const json = outputs.length > 0 && outputs.every((o) => o.trimStart().startsWith('{'));
  const text = json && outputs.length === 1 ? (outputs[0] as string) : outputs.map((o) => (o.endsWith('\n') ? o : `${o}\n`)).join('---\n');
  if (flags.output !== undefined) await writeFile(flags.output, text);
  else process.stdout.write(text);
  if (!flags.quiet) process.stderr.write(summary.length === 0 ? 'meshlet inject: no workloads found\n' : `${summary.join('\n')}\n`);
}

// `meshlet proxy`: runs one sidecar. The only module here with side effects (reads env and argv,
// opens ports, handles signals). See `meshlet proxy --help`.
import { flushCompileCache } from 'node:module';
import { Command, CommanderError, Option } from 'commander';
import pino from 'pino';
import { z } from 'zod';
import { LOOPBACK, SIDECAR_ADMIN_PORT, type SidecarConfig } from '@meshlet/wire';
import { envOverrides, overlay, parseConfig, readConfigFile, type Overrides } from './config.ts';
import { watchConfig } from './config-watch.ts';
import { ConfigError, UsageError } from './errors.ts';
import { createSidecar } from './sidecar.ts';

const HELP_AFTER = `
Config precedence: flags > environment (MESHLET_PROXY_<KEY>) > --config file or --config-url > defaults.
Environment: MESHLET_PROXY_SERVICE, _APP, _APP_PROTOCOL, _INBOUND, _OUTBOUND, _ADMIN, _COLLECTOR, _TEST_MODE,
  _ENDPOINT ("svc=host:port,host:port;other=host:port"), _CONFIG, _CONFIG_URL, _ACCESS_LOG.
Admin endpoints: GET /ready /live /metrics /config, POST /shutdown (drain, then exit).
Logs: operational JSON lines (pino) on stderr, including one {"msg":"listening",inbound,outbound,admin};
  the access log (one JSON line per request) on stdout unless --access-log names a file.

Examples:
  meshlet proxy --service orders --app 127.0.0.1:8080 --endpoint payments=127.0.0.1:25006
  meshlet proxy --config sidecar.yaml --collector http://127.0.0.1:4318
  meshlet proxy --config-url http://10.77.0.1:15010/v1/pods/orders-1/config
`;

function program(): Command {
  return new Command('meshlet proxy')
    .description('Run one meshlet sidecar: inbound traffic to the app, outbound traffic from the app to the mesh.')
    .option('--service <name>', 'name of the local service (required unless the config gives it)')
    .option('--app <host:port>', 'the local app, where inbound traffic goes ("none" for outbound only)')
    .addOption(new Option('--app-protocol <protocol>', 'how to talk to the app: http (HTTP/1.1) or h2c (HTTP/2 cleartext, e.g. gRPC)').choices(['http', 'h2c']))
    .option('--inbound <host:port>', 'inbound listener (mesh → app)', `${LOOPBACK}:15006`)
    .option('--outbound <host:port>', 'outbound listener (app → mesh; point HTTP_PROXY here)', `${LOOPBACK}:15001`)
    .option('--admin <host:port>', 'admin listener', `${LOOPBACK}:${SIDECAR_ADMIN_PORT}`)
    .option('--endpoint <service=host:port,...>', 'endpoints of a destination service (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--collector <url>', 'OTLP/HTTP base URL for spans, e.g. http://127.0.0.1:4318 ("none": no export)')
    .option('--config <file>', 'config file (JSON or YAML of the sidecar config)')
    .option('--config-url <url>', "the runtime's config API for this pod; followed for changes (?watch=1)")
    .option('--test-mode', 'honour the x-meshlet-fault request header')
    .option('--access-log <path>', 'write the access log to this file instead of stdout')
    .addOption(new Option('--no-access-log', 'do not write an access log'))
    .addHelpText('after', HELP_AFTER)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
}

interface Flags {
  service?: string;
  app?: string;
  appProtocol?: 'http' | 'h2c';
  inbound: string;
  outbound: string;
  admin: string;
  endpoint: string[];
  collector?: string;
  config?: string;
  configUrl?: string;
  testMode?: boolean;
  accessLog: string | boolean;
}

/** Flags the user actually typed (commander fills defaults in, which must not beat env or file). */
function typedFlags(cmd: Command, flags: Flags): Overrides {
  const o: Overrides = {};
  const typed = (name: string): boolean => cmd.getOptionValueSource(name) === 'cli';
  if (typed('service')) o.service = flags.service;
  if (typed('app')) o.app = flags.app === 'none' ? null : (flags.app);
  if (typed('appProtocol')) o.appProtocol = flags.appProtocol;
  if (typed('inbound')) o.inbound = flags.inbound;
  if (typed('outbound')) o.outbound = flags.outbound;
  if (typed('admin')) o.admin = flags.admin;
  if (flags.endpoint.length > 0) o.endpoint = flags.endpoint;
  if (typed('collector')) o.collector = flags.collector === 'none' ? null : (flags.collector);
  if (typed('testMode')) o.testMode = true;
  return o;
}

export async function main(argv: string[]): Promise<void> {
  // zod compiles a fast path (`new Function`) for an object schema on its first parse: worth it for
  // many parses, not for a config parsed a few times in a sidecar's life (~10 ms of start-up CPU).
  z.config({ jitless: true });
  const logger = pino({ base: { component: 'sidecar' }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 2, sync: true }));
  const cmd = program();
  let flags: Flags;
  try {
    cmd.parse(argv, { from: 'user' });
    flags = cmd.opts<Flags>();
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code !== 'commander.helpDisplayed' && err.code !== 'commander.version') process.exitCode = 2;
      return;
    }
    throw err;
  }
  let env: Overrides;
  let cli: Overrides;
  try {
    env = envOverrides(process.env);
    cli = typedFlags(cmd, flags);
    overlay({}, env, cli); // surfaces malformed --endpoint values before anything starts
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`meshlet proxy: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
  const configFile = cmd.getOptionValueSource('config') === 'cli' ? flags.config : env.config;
  const configUrl = cmd.getOptionValueSource('configUrl') === 'cli' ? flags.configUrl : env.configUrl;
  const accessLogFlag = flags.accessLog === false ? false : typeof flags.accessLog === 'string' ? flags.accessLog : (env.accessLog ?? true);

  let exiting = false;
  const sidecar = createSidecar({
    logger,
    accessLogDestination: typeof accessLogFlag === 'string' ? accessLogFlag : 1,
    onShutdown: () => void stop(0),
  });
  const stop = async (code: number): Promise<void> => {
    if (exiting) return;
    exiting = true;
    watch?.close();
    await sidecar.close();
    process.exitCode = code;
    // Keep-alive timers of undici or pino may hold the loop; the drain is complete.
    setTimeout(() => process.exit(code), 200).unref();
  };
  const withAccessLogSetting = (cfg: SidecarConfig): SidecarConfig =>
    accessLogFlag === false ? Object.freeze({ ...cfg, telemetry: { ...cfg.telemetry, accessLog: false } }) : cfg;

  let announced = false;
  const announce = (): void => {
    if (announced) return;
    announced = true;
    const a = sidecar.addresses();
    logger.info({ inbound: a.inbound, outbound: a.outbound, admin: a.admin, service: sidecar.config()?.service }, 'listening');
    // Node writes its compile cache (turned on by bin/meshlet.js) at exit; a sidecar lives as long as its
    // pod, so write it now: the next sidecar started on this host (a restart, a scale-up) starts faster.
    flushCompileCache();
  };

  let watch: { close(): void } | null = null;
  try {
    if (configUrl !== undefined) {
      // Admin first: the runtime polls /ready, which stays 503 until a valid config is applied.
      await sidecar.listenAdmin(cli.admin ?? env.admin ?? `${LOOPBACK}:${SIDECAR_ADMIN_PORT}`);
      let lastRevision = -1;
      let chain = Promise.resolve();
      watch = watchConfig({
        url: configUrl,
        onError: (message) => logger.warn({ url: configUrl }, message),
        onConfig: (input, source) => {
          chain = chain.then(async () => {
            let cfg: SidecarConfig;
            try {
              cfg = withAccessLogSetting(parseConfig(overlay(input, env, cli), source));
            } catch (err) {
              if (err instanceof ConfigError) {
                sidecar.rejected(err.problems);
                return;
              }
              throw err;
            }
            if (cfg.revision === lastRevision) return;
            lastRevision = cfg.revision;
            try {
              await sidecar.apply(cfg);
              announce();
            } catch (err) {
              logger.error({ err }, 'applying the config failed');
              if (!sidecar.ready) await stop(1);
            }
          });
        },
      });
    } else {
      const fileInput = configFile === undefined ? {} : await readConfigFile(configFile);
      const input = overlay(fileInput, env, cli) as Record<string, unknown>;
      if (input.app === undefined && input.service !== undefined) {
        process.stderr.write('meshlet proxy: --app HOST:PORT is required (the local app; "none" for an outbound-only sidecar)\n');
        process.exitCode = 2;
        return;
      }
      const cfg = withAccessLogSetting(parseConfig(input, configFile ?? 'flags and environment'));
      await sidecar.listenAdmin(cfg.listen.admin);
      await sidecar.apply(cfg);
      announce();
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`meshlet proxy: ${err.message}\n`);
      process.exitCode = 2;
      await sidecar.close();
      return;
    }
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' || (err as NodeJS.ErrnoException).code === 'EACCES') {
      process.stderr.write(`meshlet proxy: cannot listen: ${(err as Error).message}\n`);
      process.exitCode = 1;
      await sidecar.close();
      return;
    }
    throw err;
  }
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, 'signal received: draining');
      void stop(0);
    });
  }
}

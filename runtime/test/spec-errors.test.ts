// Bad input stops `up` before anything is created, with every problem on its line; so do names and
// subnets already taken on the host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanup, meshlet, needsRoot, tempDir, uniqueNetwork } from './helpers.ts';

test('a spec with errors: every problem with its line, non-zero exit, nothing created', async (t) => {
  const dir = await tempDir('meshlet-spec-');
  const stateDir = await tempDir('meshlet-state-');
  t.after(() => Promise.all([rm(dir, { recursive: true, force: true }), rm(stateDir, { recursive: true, force: true })]));
  await writeFile(
    join(dir, 'bad.yaml'),
    ['services:', '  web:', '    command: node app.js', '    port: abc', '    replicas: -1', '    dependson: [api]', '  api:', '    port: 9000', ''].join('\n'),
  );
  for (const args of [['up', '-d', '-f', 'bad.yaml'], ['up', '--isolation=process', '-f', 'bad.yaml'], ['check', '-f', 'bad.yaml']]) {
    const r = await meshlet(args, { stateDir, cwd: dir });
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    const text = r.stdout + r.stderr;
    assert.match(text, /services\.web\.port: expected a number, got "abc" \(bad\.yaml:4\)/);
    assert.match(text, /services\.web\.replicas: expected a number ≥ 0, got -1 \(bad\.yaml:5\)/);
    assert.match(text, /services\.web\.dependson: unknown field "dependson" \(did you mean "depends_on"\?\) \(bad\.yaml:6\)/);
    assert.match(text, /services\.api: a service needs an image or a command .* \(bad\.yaml:7\)/);
  }
  assert.deepEqual(await readdir(stateDir), [], 'no daemon, no state');

  const missing = await meshlet(['up', '-d', '-f', 'nope.yaml'], { stateDir, cwd: dir });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read .*nope\.yaml: ENOENT/);

  await writeFile(join(dir, 'image.yaml'), 'services:\n  web:\n    image: nginx:1.27\n    port: 80\n');
  const image = await meshlet(['up', '-d', '--isolation=process', '-f', 'image.yaml'], { stateDir, cwd: dir });
  assert.equal(image.code, 1);
  assert.match(image.stderr, /services\.web: image "nginx:1\.27" cannot run: .* images are not supported yet/);

  const usage = await meshlet(['scale', 'web'], { stateDir, cwd: dir });
  assert.notEqual(usage.code, 0);
});

test('a bridge name and a subnet already in use are refused before anything is created', { skip: needsRoot, timeout: 60_000 }, async (t) => {
  const net = uniqueNetwork();
  const mesh = `se${net.id}`;
  const dir = await tempDir('meshlet-spec-');
  const stateDir = await tempDir('meshlet-state-');
  // Something else owns the bridge name and an address in the subnet.
  execFileSync('ip', ['link', 'add', net.bridge, 'type', 'bridge']);
  t.after(async () => {
    execFileSync('ip', ['link', 'del', net.bridge]);
    await cleanup(stateDir, [dir]);
  });
  execFileSync('ip', ['addr', 'add', `${net.prefix}.9/24`, 'dev', net.bridge]);
  await writeFile(join(dir, 'mesh.yaml'), `name: ${mesh}\nnetwork: { bridge: ${net.bridge}, subnet: ${net.subnet}, vip_range: ${net.vipRange} }\ntelemetry: { collector: none }\nservices:\n  web: { command: node app.js, port: 8080 }\n`);
  const r = await meshlet(['up', '-d', '-f', 'mesh.yaml'], { stateDir, cwd: dir });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /problems prevent mesh .* from starting; nothing was created/);
  assert.match(r.stderr, new RegExp(`network\\.subnet ${net.subnet.replaceAll('.', '\\.')} overlaps address ${net.prefix.replaceAll('.', '\\.')}\\.9 on ${net.bridge}`));
  assert.match(r.stderr, new RegExp(`network interface ${net.bridge} already exists`));
  assert.ok(!execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).includes(`ml-${mesh}-`));
  assert.ok(!(await readdir(stateDir)).includes(mesh));
  const check = await meshlet(['check', '-f', 'mesh.yaml'], { stateDir, cwd: dir });
  assert.equal(check.code, 1);
  assert.match(check.stdout, /network\s+FAIL/);
});

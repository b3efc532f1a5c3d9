import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResponseBody, type FlowControl } from './response-body.ts';

function flow() {
  const calls: string[] = [];
  const f: FlowControl & { calls: string[]; body?: ResponseBody } = {
    calls,
    pause: () => calls.push('pause'),
    resume: () => calls.push('resume'),
    abort: (err) => {
      calls.push('abort');
      f.body?.fail(err);
    },
  };
  return f;
}

test('a body the client abandoned completes its listeners, finished or not', () => {
  for (const finishedFirst of [true, false]) {
    const f = flow();
    const body = new ResponseBody(f);
    f.body = body;
    body.push(Buffer.from('abc'));
    if (finishedFirst) body.end({});
    const seen: (Error | null)[] = [];
    body.onDone((err) => seen.push(err));
    body.abort(new Error('client gone'));
    assert.equal(seen.length, 1, `finished first: ${finishedFirst}`);
    assert.equal(f.calls.includes('abort'), !finishedFirst);
  }
});

test('small responses are held without pausing; large ones pause until a sink is attached', () => {
  const f = flow();
  const body = new ResponseBody(f);
  body.push(Buffer.alloc(1000));
  assert.deepEqual(f.calls, []);
  body.push(Buffer.alloc(70 * 1024));
  assert.deepEqual(f.calls, ['pause']);
  body.end({});
  assert.deepEqual(f.calls, ['pause', 'resume'], 'a complete message frees the connection');
});

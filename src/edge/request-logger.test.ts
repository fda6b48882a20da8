// A request's deferred logger writes what pino's own child would, and a request that logs nothing makes no child.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import type { FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import { deferredRequestLogger } from './request-logger.ts';

function recordingLogger(level: string) {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  const logger = pino({ level, base: null, timestamp: false }, stream);
  let children = 0;
  const child = logger.child;
  // Children inherit this counting `child`, so it must make each one from the logger it is called on.
  logger.child = function (this: typeof logger, ...args: Parameters<typeof child>) {
    children += 1;
    return child.apply(this, args);
  } as typeof logger.child;
  return { logger: logger as FastifyBaseLogger, lines, children: () => children };
}

test("a request's lines carry its bindings, as pino's child writes them", () => {
  const { logger, lines } = recordingLogger('info');
  const log = deferredRequestLogger(logger, { reqId: 'req_1' }, {});
  log.info({ route: '/' }, 'answered');
  log.warn('slow');
  assert.deepEqual(lines, [
    { level: 30, reqId: 'req_1', route: '/', msg: 'answered' },
    { level: 40, reqId: 'req_1', msg: 'slow' },
  ]);
});

test('a request that logs only below the level writes nothing and makes no child', () => {
  const recording = recordingLogger('warn');
  const log = deferredRequestLogger(recording.logger, { reqId: 'req_2' }, {});
  log.info('incoming request');
  log.debug('details');
  assert.deepEqual(recording.lines, []);
  assert.equal(recording.children(), 0);
  assert.equal(log.level, 'warn');
});

test("a child of the request's logger keeps the request's bindings, and a level set on it stays with that request", () => {
  const { logger, lines } = recordingLogger('warn');
  const log = deferredRequestLogger(logger, { reqId: 'req_3' }, {});
  log.child({ part: 'relay' }).error('failed');
  log.level = 'debug';
  log.debug('now visible');
  deferredRequestLogger(logger, { reqId: 'req_4' }, {}).debug('still hidden');
  assert.deepEqual(lines, [
    { level: 50, reqId: 'req_3', part: 'relay', msg: 'failed' },
    { level: 20, reqId: 'req_3', msg: 'now visible' },
  ]);
  assert.equal(logger.level, 'warn');
});

test('a route with a level of its own gets a child made at once with that level', () => {
  const { logger, lines } = recordingLogger('warn');
  const log = deferredRequestLogger(logger, { reqId: 'req_5' }, { level: 'info' });
  log.info('routed');
  assert.deepEqual(lines, [{ level: 30, reqId: 'req_5', msg: 'routed' }]);
});

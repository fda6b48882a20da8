// The rules of delivery.ts against real sockets on 127.0.0.1: pinned addresses, failures as outcomes, verdicts.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Agent, createServer, type RequestListener } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { test } from 'node:test';
import { judge, pinnedLookup, retryAfterMs, type SendOutcome, sendWebhook } from './delivery.ts';

async function listen(handler: RequestListener) {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

const send = (url: string, addresses = ['127.0.0.1']) =>
  sendWebhook({
    url,
    headers: {},
    body: '{}',
    timeoutMs: 1000,
    maxResponseBytes: 1024,
    lookup: pinnedLookup(addresses),
  });

test('a host name is sent to the addresses the target check approved, without resolving it again', async () => {
  let host = '';
  const receiver = await listen((request, response) => {
    host = request.headers.host ?? '';
    response.end('ok');
  });
  try {
    // `.invalid` never resolves (RFC 6761 §6.4): only the pinned address can have been used.
    const outcome = await send(`http://hooks.invalid:${receiver.port}/`);
    assert.equal(outcome.kind, 'response');
    assert.equal(host, `hooks.invalid:${receiver.port}`);
  } finally {
    receiver.close();
  }
});

test('a reset and a TLS failure are outcomes to retry, not exceptions', async () => {
  const receiver = await listen((request) => request.socket.destroy());
  try {
    const reset = await send(`http://127.0.0.1:${receiver.port}/`);
    assert.equal(reset.kind, 'error');
    assert.equal(judge(reset, 0).kind, 'retry');
    // A plain-HTTP server answering a TLS handshake fails it.
    const tls = await send(`https://127.0.0.1:${receiver.port}/`);
    assert.equal(tls.kind, 'error');
    assert.equal(judge(tls, 0).kind, 'retry');
  } finally {
    receiver.close();
  }
});

test('a kept connection is reused, and one the receiver drops as it is reused is replaced by a new one', async () => {
  const seen = new Map<Socket, number>();
  const receiver = await listen((request, response) => {
    const count = (seen.get(request.socket) ?? 0) + 1;
    seen.set(request.socket, count);
    // The third request on a connection finds it closed, as when the receiver's idle timeout strikes just then.
    if (count === 3) {
      request.socket.destroy();
      return;
    }
    response.end('ok');
  });
  const agent = new Agent({ keepAlive: true, lookup: pinnedLookup(['127.0.0.1']) });
  try {
    const sendKept = () =>
      sendWebhook({
        url: `http://hooks.invalid:${receiver.port}/`,
        headers: {},
        body: '{}',
        timeoutMs: 1000,
        maxResponseBytes: 1024,
        lookup: pinnedLookup(['127.0.0.1']),
        agent,
      });
    for (let n = 0; n < 3; n++) {
      const outcome = await sendKept();
      assert.equal(outcome.kind, 'response');
    }
    assert.deepEqual([...seen.values()], [3, 1]);
  } finally {
    agent.destroy();
    receiver.close();
  }
});

test('2xx is delivered, 410 gone, 429 and 5xx retried, other statuses (3xx included) not retried', () => {
  const response = (statusCode: number, retryAfter: string | null = null): SendOutcome => ({
    kind: 'response',
    statusCode,
    retryAfter,
    body: '',
    latencyMs: 1,
  });
  assert.equal(judge(response(200), 0).kind, 'delivered');
  assert.equal(judge(response(299), 0).kind, 'delivered');
  assert.equal(judge(response(410), 0).kind, 'gone');
  assert.deepEqual(judge(response(429, '120'), 0), { kind: 'retry', notBeforeMs: 120_000 });
  assert.deepEqual(judge(response(503), 0), { kind: 'retry', notBeforeMs: null });
  for (const status of [301, 302, 307, 400, 401, 404, 422]) assert.equal(judge(response(status), 0).kind, 'rejected');
});

test('Retry-After is read as seconds or as an HTTP-date; anything else is ignored', () => {
  const now = Date.parse('2026-03-01T09:00:00Z');
  assert.equal(retryAfterMs('30', now), 30_000);
  assert.equal(retryAfterMs('Sun, 01 Mar 2026 09:02:00 GMT', now), 120_000);
  assert.equal(retryAfterMs('Sun, 01 Mar 2026 08:00:00 GMT', now), 0);
  assert.equal(retryAfterMs('soon', now), null);
  assert.equal(retryAfterMs(null, now), null);
});

// Hooks whose work is usually synchronous. Fastify runs an async hook through a promise and a microtask even when
// it awaits nothing; every request passes about twenty hooks, so the edge's hooks answer through Fastify's callback
// instead and make a promise only on the paths that wait for something (bench/README.md, `root`). A step that
// throws is caught by Fastify's hook runner and answered like a rejected hook.
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';

type Done = HookHandlerDoneFunction;
type PayloadDone = (error?: Error | null, payload?: unknown) => void;

/** A request hook (onRequest, preValidation, preHandler, onResponse) from a step that returns a promise only when it waits. */
export function requestStep(work: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown> | undefined) {
  return (request: FastifyRequest, reply: FastifyReply, done: Done): void => {
    const waiting = work(request, reply);
    if (waiting === undefined) done();
    else waiting.then(() => done(), done);
  };
}

/** An onSend hook from a step that returns the payload to send, or a promise of it only when it waits. */
export function payloadStep<P>(work: (request: FastifyRequest, reply: FastifyReply, payload: P) => P | Promise<P>) {
  return (request: FastifyRequest, reply: FastifyReply, payload: P, done: PayloadDone): void => {
    const result = work(request, reply, payload);
    if (result instanceof Promise) result.then((sent) => done(null, sent), done);
    else done(null, result);
  };
}

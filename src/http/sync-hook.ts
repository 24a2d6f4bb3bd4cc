import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';

/**
 * Turns a check that is synchronous when its data is cached (and a promise otherwise) into a
 * callback-style Fastify hook: the common, cached case allocates no promise at all.
 */
export function syncFirstHook(check: (request: FastifyRequest) => void | Promise<void>) {
  return (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    let pending: void | Promise<void>;
    try {
      pending = check(request);
    } catch (error) {
      done(error as Error);
      return;
    }
    if (pending) pending.then(() => done(), done);
    else done();
  };
}

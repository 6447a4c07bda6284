/*
 * What the local tooling (npm start, the CLI, the tests) needs on Node 20, the
 * Node of this project's machines (Lambdas themselves run on nodejs24.x):
 * - Promise.withResolvers, which aws-local-stepfunctions uses and Node 20 lacks;
 * - quiet about the SDK's notice that releases after January 2027 need Node 22
 *   (the pinned SDK runs on Node 20; each bundled handler would print it once).
 * Import it first; it changes nothing on Node 22+.
 */

if (typeof (Promise as { withResolvers?: unknown }).withResolvers !== 'function') {
  Object.assign(Promise, {
    withResolvers<T>() {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export {};

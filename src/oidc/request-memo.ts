/**
 * One answer per provider request and key. While serving one request the engine calls
 * `findAccount` and `extraTokenClaims` more than once, and each would read the same rows again.
 * Keyed on the request's context object, so nothing outlives the request; a call without a
 * context is not memoised.
 */
export function memoPerRequest<A, V>(keyOf: (arg: A) => string, load: (arg: A) => Promise<V>): (ctx: unknown, arg: A) => Promise<V> {
  const byRequest = new WeakMap<object, Map<string, Promise<V>>>();
  return (ctx, arg) => {
    if (typeof ctx !== 'object' || ctx === null) return load(arg);
    let memo = byRequest.get(ctx);
    if (!memo) byRequest.set(ctx, (memo = new Map<string, Promise<V>>()));
    const key = keyOf(arg);
    let value = memo.get(key);
    if (!value) memo.set(key, (value = load(arg)));
    return value;
  };
}

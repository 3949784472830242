/**
 * Sets `key` in an insertion-ordered map used as a small cache, newest last; past `limit` entries
 * the oldest goes. Keeps per-process memos (signed identities, verified tokens, partner keys,
 * known query texts) bounded whatever callers send.
 */
export function rememberBounded<K, V>(map: Map<K, V>, key: K, value: V, limit: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > limit) map.delete(map.keys().next().value as K);
}

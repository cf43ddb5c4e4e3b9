// Equality as the apiserver sees it: the same JSON, whatever the key order. Objects read back from the
// apiserver have their keys sorted, objects we build do not; comparing JSON.stringify output made every
// status look changed, so each write caused a watch event, a reconcile and another write (found by the
// lifecycle benchmark's request count).
import { isDeepStrictEqual } from 'node:util';

export function jsonEqual(a: unknown, b: unknown): boolean {
  // The round trip drops undefined properties, as serialization to the apiserver does.
  const plain = (v: unknown) => (v === undefined ? undefined : (JSON.parse(JSON.stringify(v)) as unknown));
  return isDeepStrictEqual(plain(a), plain(b));
}

/** Named locks within this process: each holder of a name waits for the one before it. */
const held = new Map<string, Promise<void>>();

/** Runs `fn` holding the lock `key`; released when `fn` settles, also when it throws. */
export async function withKeyedLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const before = held.get(key) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const chained = before.then(() => mine);
  held.set(key, chained);
  await before;
  try {
    return await fn();
  } finally {
    release();
    if (held.get(key) === chained) held.delete(key);
  }
}

/** Runs `fn` holding every named lock, taken in one sorted order so two holders never deadlock. */
export async function withKeyedLocks<T>(keys: string[], fn: () => Promise<T>): Promise<T> {
  const [first, ...rest] = [...new Set(keys)].sort();
  return first === undefined ? fn() : withKeyedLock(first, () => withKeyedLocks(rest, fn));
}

import { constants } from 'node:os';

/**
 * Linux errno numbers to names, from Node's own table: it needs no FFI, so error objects can be
 * built (and tested) without loading koffi. Where Linux has aliases (EWOULDBLOCK = EAGAIN,
 * EDEADLOCK = EDEADLK, ENOTSUP = EOPNOTSUPP) the conventional name wins.
 */
const PREFERRED = new Set(['EAGAIN', 'EDEADLK', 'EOPNOTSUPP']);
const names = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) {
  if (!names.has(value) || PREFERRED.has(name)) names.set(value, name);
}

export function errnoName(errno: number): string {
  return names.get(errno) ?? `errno ${errno}`;
}

export function errnoNumber(name: string): number | undefined {
  return (constants.errno as Record<string, number | undefined>)[name];
}

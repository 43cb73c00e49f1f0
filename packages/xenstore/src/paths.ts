/** Node-name rules of xenstored 4.17 (is_valid_nodename, canonicalize, get_parent). */
import { ABS_PATH_MAX, REL_PATH_MAX } from './wire';

const VALID = /^[A-Za-z0-9\-/_@]*$/;

export function domainPath(domid: number): string {
  return `/local/domain/${domid}`;
}

/**
 * Relative names resolve against the caller's home. For the unix socket C xenstored 4.17 uses
 * /local/domain/0 (get_implicit_path), although docs/misc/xenstore.txt says relative paths are
 * for domains only; `@` names are never rewritten.
 */
export function canonicalize(domid: number, name: string): string {
  if (name.startsWith('/') || name.startsWith('@')) return name;
  return `${domainPath(domid)}/${name}`;
}

/**
 * `unprivileged` adds the per-domain path quota (2048 characters after a leading
 * `/local/domain/<id>/`), which 4.17 applies to domains only.
 */
export function isValidNodeName(name: string, unprivileged: boolean): boolean {
  if (!name.startsWith('/')) return false;
  if (name.length > 1 && name.endsWith('/')) return false;
  if (name.includes('//')) return false;
  if (name.length > ABS_PATH_MAX) return false;
  if (!VALID.test(name)) return false;
  if (unprivileged) {
    const m = /^\/local\/domain\/\d{1,5}\//.exec(name);
    if (name.length - (m ? m[0].length : 0) > REL_PATH_MAX) return false;
  }
  return true;
}

export function parentOf(name: string): string {
  const slash = name.lastIndexOf('/');
  return slash <= 0 ? '/' : name.slice(0, slash);
}

export function baseName(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1);
}

export function childPath(parent: string, child: string): string {
  return parent === '/' ? `/${child}` : `${parent}/${child}`;
}

/** Whether `name` is `ancestor` or lies below it (xenstored's is_child). */
export function isAtOrBelow(name: string, ancestor: string): boolean {
  if (ancestor === '/') return name.startsWith('/');
  return name === ancestor || name.startsWith(ancestor + '/');
}

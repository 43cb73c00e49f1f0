/** Xs over the xenstore package's wire-protocol client (a socket, /dev/xen/xenbus, or in-process). */
import type { XenstoreClient, XenstoreOps } from '@xentool/xenstore';
import type { Xs, XsOps, XsWatch } from './xs';

function isEnoent(e: unknown): boolean {
  return (e as { code?: string } | undefined)?.code === 'ENOENT';
}

function ops(o: XenstoreOps): XsOps {
  return {
    read: (p) => o.tryRead(p),
    write: (p, v) => o.write(p, v),
    mkdir: (p) => o.mkdir(p),
    rm: async (p) => {
      try {
        await o.rm(p);
      } catch (e) {
        if (!isEnoent(e)) throw e;
      }
    },
    directory: async (p) => {
      try {
        return await o.directory(p);
      } catch (e) {
        if (isEnoent(e)) return [];
        throw e;
      }
    },
    setPerms: (p, perms) => o.setPerms(p, perms.map((x) => ({ id: x.domid, perm: x.perm }))),
    getPerms: async (p) => {
      try {
        return (await o.getPerms(p)).map((x) => ({ domid: x.id, perm: x.perm }));
      } catch (e) {
        if (isEnoent(e)) return undefined;
        throw e;
      }
    },
  };
}

export function xsFromClient(client: XenstoreClient): Xs {
  return {
    ...ops(client),
    transaction: (fn) => client.transaction((tx) => fn(ops(tx))),
    watch: (path, token): XsWatch => {
      const w = client.watch(path, token);
      return {
        close: () => w.close(),
        [Symbol.asyncIterator]: () => ({
          next: async () => {
            const r = await w.next();
            return r.done ? { done: true, value: undefined } : { done: false, value: { path: r.value.path, token: r.value.token } };
          },
          return: async () => {
            await w.close();
            return { done: true, value: undefined };
          },
        }),
      };
    },
    close: async () => client.close(),
  };
}

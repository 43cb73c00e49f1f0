export { XenstoreError } from './errors';
export {
  XenstoreClient, XenstoreOps, XenstoreTransaction, openXenstore, resolveXenstorePath,
  DEFAULT_SOCKET_PATH, XENBUS_DEVICE_PATH,
} from './client';
export type { ClientOptions, OpenOptions, TransactionOptions, WatchEvent, XenstoreMode } from './client';
export { XenstoredServer, SPECIAL_INTRODUCE, SPECIAL_RELEASE } from './server';
export type { ServerOptions, SnapshotNode, XenstoreSnapshot } from './server';
export type { Perm, PermLetter } from './perms';
export { formatPerm, parsePerm } from './perms';
export { XsType, XS_ERROR_NAMES, PAYLOAD_MAX, encodeMessage, FrameReader } from './wire';
export type { XsMessage } from './wire';
export { duplexPair } from './duplex-pair';
export { startXenstored } from './daemon';
export type { Daemon, DaemonOptions } from './daemon';

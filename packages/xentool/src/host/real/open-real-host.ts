/**
 * Builds the real host from its parts. libxc-bindings is imported here, lazily, so koffi and
 * libxenctrl load only when a real host is actually opened.
 */
import type { XcLogMessage } from '@xentool/libxc-bindings';
import { RealHost, type XenstoreReader } from './real-host';

export interface OpenRealHostOptions {
  /** An open xenstore client; closed again if the hypervisor cannot be opened. */
  xenstore: XenstoreReader;
  /** Overrides the libxenctrl.so.4.17 soname lookup (tests, unusual installs). */
  libraryPath?: string;
  /** libxc's log messages (for --verbose); they never go to stderr by themselves. */
  onLog?: (m: XcLogMessage) => void;
}

/**
 * Opens libxenctrl and returns the real host. Without a hypervisor this throws the bindings'
 * HostUnavailableError (code ERR_HOST_UNAVAILABLE, naming /dev/xen/privcmd).
 */
export async function openRealHost(opts: OpenRealHostOptions): Promise<RealHost> {
  const { openXc } = await import('@xentool/libxc-bindings');
  let xc;
  try {
    xc = openXc({ libraryPath: opts.libraryPath, onLog: opts.onLog });
  } catch (e) {
    await opts.xenstore.close();
    throw e;
  }
  return new RealHost({ xc, xenstore: opts.xenstore });
}

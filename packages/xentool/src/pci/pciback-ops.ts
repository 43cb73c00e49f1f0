/** PcibackOps over a sysfs tree, with packages/pciback doing (and verifying) the writes. */
import type { SysfsFs } from '@xentool/pciback';
import { currentDriverPath, fromLibxlDriverPath, makeAssignable, release, resetDevice, setPermissive, toLibxlDriverPath, isPcibackError } from '@xentool/pciback';
import type { PcibackOps } from './step-handlers';

export function pcibackOps(fs: SysfsFs): PcibackOps {
  return {
    seize: async (bdf) => {
      const r = makeAssignable(fs, bdf);
      return { originalDriverPath: r.originalDriverPath ? toLibxlDriverPath(r.originalDriverPath) : undefined };
    },
    release: async (bdf) => {
      release(fs, bdf);
    },
    bindDriver: async (bdf, driverPath) => {
      release(fs, bdf, { rebindTo: fromLibxlDriverPath(driverPath) });
    },
    reset: async (bdf) => {
      try {
        resetDevice(fs, bdf);
        return undefined;
      } catch (e) {
        // libxl ignores reset failures; we go on too (pciback resets on release) but say so.
        if (isPcibackError(e)) return `${e.message}; continuing without a reset`;
        throw e;
      }
    },
    setPermissive: async (bdf) => setPermissive(fs, bdf),
    currentDriverPath: async (bdf) => {
      const p = currentDriverPath(fs, bdf);
      return p ? toLibxlDriverPath(p) : undefined;
    },
  };
}

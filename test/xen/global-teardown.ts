/** Powers off the VMs that global-setup.ts booted; their run directories (logs, consoles) are kept. */
import type { XenVm } from './xen-vm';

export default async function globalTeardown(): Promise<void> {
  const vms = (globalThis as { __xenvms?: XenVm[] }).__xenvms ?? [];
  await Promise.all(
    vms.map(async (vm) => {
      await vm.shutdown();
      process.stderr.write(`xenvm: powered off; logs in ${vm.runDir}\n`);
    }),
  );
}

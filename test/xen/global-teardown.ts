/** Powers off the VM that global-setup.ts booted; its run directory (logs, consoles) is kept. */
import type { XenVm } from './xen-vm';

export default async function globalTeardown(): Promise<void> {
  const vm = (globalThis as { __xenvm?: XenVm }).__xenvm;
  if (!vm) return;
  await vm.shutdown();
  process.stderr.write(`xenvm: powered off; logs in ${vm.runDir}\n`);
}

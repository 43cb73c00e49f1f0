/** Process entry points for the `xentool` and `xm` bins. */
import { makeProcessContext, readProcessInputs } from './config';

export async function main(prog: 'xentool' | 'xm' | 'xl'): Promise<void> {
  const inputs = readProcessInputs();
  const ctx = makeProcessContext(inputs, prog);
  if (prog === 'xm') {
    const [{ runXm }, { openHost }] = await Promise.all([import('./xm/xm-cli'), import('./host/open-host')]);
    process.exitCode = await runXm(inputs.argv, ctx, (g) =>
      openHost(ctx, { _: [], sim: g.sim, ...(g.simDir !== undefined ? { simDir: g.simDir } : {}) }),
    );
    return;
  }
  const { runCli } = await import('./cli');
  process.exitCode = await runCli(inputs.argv, ctx);
}

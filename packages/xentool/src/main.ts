/** Process entry points for the `xentool` and `xm` bins. */
import { makeProcessContext, readProcessInputs } from './config';

export async function main(prog: 'xentool' | 'xm' | 'xl'): Promise<void> {
  const inputs = readProcessInputs();
  const ctx = makeProcessContext(inputs, prog);
  const { runCli } = await import('./cli');
  process.exitCode = await runCli(inputs.argv, ctx);
}

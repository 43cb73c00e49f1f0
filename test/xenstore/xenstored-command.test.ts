/** `xentool xenstored`: serves the real tools, persists its tree, refuses a live socket. */
import * as fs from 'node:fs';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { runCli } from '../../packages/xentool/src/cli';
import { command } from '../../packages/xentool/src/commands/xenstored';
import { captureContext } from '../../packages/xentool/src/testing/capture';
import { run, scratchDir } from './harness';

function startDaemon(args: string[]) {
  const ac = new AbortController();
  const ctx = Object.assign(captureContext(), { signal: ac.signal });
  const done = runCli(['xenstored', ...args], ctx, { commands: [command] });
  const listening = new Promise<void>((resolve, reject) => {
    const poll = setInterval(() => {
      if (ctx.stdout.text.includes('listening on')) {
        clearInterval(poll);
        resolve();
      }
    }, 5);
    void done.then((code) => {
      clearInterval(poll);
      reject(new Error(`exited ${code}: ${ctx.stderr.text}`));
    });
  });
  return { ctx, done, listening, stop: () => ac.abort() };
}

describe('xentool xenstored', () => {
  const dir = scratchDir('xs-cmd-');
  const sock = path.join(dir, 'socket');
  const state = path.join(dir, 'state.json');
  const env = { XENSTORED_PATH: sock };

  test('serves xenstore-utils, persists across restarts, and stops on abort', async () => {
    const d = startDaemon(['--socket', sock, '--persist', state]);
    await d.listening;
    expect(d.ctx.stdout.text).toBe(`listening on ${sock}\n`);
    expect((await run('xenstore-write', ['/vm/name', 'guest1'], env)).code).toBe(0);
    d.stop();
    expect(await d.done).toBe(0);
    expect(fs.existsSync(sock)).toBe(false);
    const saved = JSON.parse(fs.readFileSync(state, 'utf8'));
    expect(saved.nodes.map((n: { path: string }) => n.path)).toContain('/vm/name');

    const again = startDaemon(['--socket', sock, '--persist', state]);
    await again.listening;
    expect(await run('xenstore-read', ['/vm/name'], env)).toEqual({ code: 0, stdout: 'guest1\n', stderr: '' });
    again.stop();
    expect(await again.done).toBe(0);
  });

  test('a socket a live daemon answers on is refused in one line; a stale one is replaced', async () => {
    const d = startDaemon(['--socket', sock]);
    await d.listening;
    const second = captureContext();
    expect(await runCli(['xenstored', '--socket', sock], second, { commands: [command] })).toBe(1);
    expect(second.stderr.text).toBe(`xentool xenstored: another xenstored is answering on ${sock}\n`);
    d.stop();
    await d.done;

    // A socket file nobody listens on, as a SIGKILLed daemon leaves behind.
    const holder = spawn(process.execPath, ['-e', "require('net').createServer().listen(process.argv[1], () => console.log('up'))", sock]);
    await new Promise((r) => holder.stdout.once('data', r));
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    expect(fs.existsSync(sock)).toBe(true);
    const d2 = startDaemon(['--socket', sock]);
    await d2.listening;
    expect((await run('xenstore-ls', ['/tool'], env)).stdout).toBe('xenstored = ""\n');
    d2.stop();
    expect(await d2.done).toBe(0);
  });

  test('relative --socket and --persist are resolved against ctx.cwd', async () => {
    const ac = new AbortController();
    const ctx = Object.assign(captureContext({ cwd: dir }), { signal: ac.signal });
    const done = runCli(['xenstored', '--socket', 'rel.sock', '--persist', 'rel.json'], ctx, { commands: [command] });
    while (!ctx.stdout.text && !ctx.stderr.text) await new Promise((r) => setTimeout(r, 5));
    expect(ctx.stdout.text).toBe(`listening on ${path.join(dir, 'rel.sock')}\n`);
    ac.abort();
    expect(await done).toBe(0);
    expect(fs.existsSync(path.join(dir, 'rel.json'))).toBe(true);
  });

  test('a corrupt persist file is ERR_XENSTORED_PERSIST, exit 1, one line', async () => {
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, '{ not json');
    const ctx = captureContext();
    expect(await runCli(['xenstored', '--socket', path.join(dir, 's2'), '--persist', bad], ctx, { commands: [command] })).toBe(1);
    expect(ctx.stderr.text).toMatch(/^xentool xenstored: cannot load xenstore state from .*bad\.json: .*\n$/);
    expect(ctx.stderr.text.split('\n')).toHaveLength(2);
  });
});

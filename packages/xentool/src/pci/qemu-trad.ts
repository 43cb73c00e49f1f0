/**
 * HVM hot-plug through a qemu-traditional device model (qemu-dm), which has no QMP: the toolstack
 * talks to it through xenstore under `/local/domain/<dm_domid>/device-model/<domid>/`
 * (xen-interfaces.md §6.2, toolstack-behaviour.md §1.6, §2.5, §2.7; checked against libxl 4.17.7
 * `qemu_pci_add_xenstore`/`qemu_pci_remove_xenstore` and qemu-xen-traditional's xenstore.c,
 * piix4acpi.c and pass-through.c, see docs/compat.md):
 *  - `parameter` is the mailbox: the toolstack writes the request, qemu-dm writes its answer;
 *  - `command` (`pci-ins`, `pci-rem`) is consumed by qemu-dm, which removes the node as it reads it;
 *  - `state` is qemu-dm's reply: `running` when idle, `pci-inserted` after an insertion (the
 *    guest devfn then in `parameter` as `0x%02x`), `pci-removed` once the guest has ejected the
 *    slot. The toolstack puts `running` back afterwards.
 * qemu-dm refuses an insertion (requested devfn taken, no free slot) by writing the reason to
 * `parameter` and leaving `state` alone, so libxl waits out its 60 s and then reports
 * `qemu refused to add device: <reason>`; we notice the reason at once.
 *
 * Each command is two plan steps: the command and its wait (`qemuTrad.pciIns`/`pciRem`), which
 * leave qemu-dm's answer in `state`, and `qemuTrad.resume`, which puts `running` back. Keeping
 * the answer in place until the next step is what lets pci-recover tell, after a crash inside the
 * first step, whether qemu-dm acted (a fully finished command otherwise leaves no trace: `state`
 * is `running` again and an insertion's answer may equal the previous one).
 */
import { XentoolError } from '../errors';
import type { Step, StepHandler } from '../plan/plan';
import { waitFor } from '../xs/wait-for';
import { readAttached } from './backend-xs';
import type { StepContext } from './step-handlers';
import { bdfOf, n, s } from './step-fields';
import type { Bdf } from './types';
import { bdfText, hex, sameBdf } from './types';

/** `DEVICE_MODEL_XS_PATH`: the device model of `domid` runs in dom0 (stub domains are refused). */
export function dmPath(domid: number): string {
  return `/local/domain/0/device-model/${domid}`;
}

/** qemu-dm's answers; a leftover one (a toolstack gave up before putting `running` back) means idle. */
const ANSWERS = new Set(['pci-inserted', 'pci-insert-failed', 'pci-removed']);
const DEVFN_ANSWER = /^0x([0-9a-f]{1,2})$/i;

/** libxl's `PCI_BDF_VDEVFN","PCI_OPTIONS` (the `@` part only for a nonzero vdevfn, as libxl). */
export function pciInsParameter(b: Bdf, vdevfn: number | undefined, msitranslate: boolean, powerMgmt: boolean): string {
  return `${bdfText(b)}${vdevfn ? `@${hex(vdevfn, 2)}` : ''},msitranslate=${+msitranslate},power_mgmt=${+powerMgmt}`;
}

/** The guest devfn qemu-dm reported for the last insertion (what libxl reads with `0x%x`). */
export async function tradVdevfn(c: Pick<StepContext, 'xs'>, domid: number): Promise<number> {
  const p = await c.xs.read(`${dmPath(domid)}/parameter`);
  const m = p === undefined ? null : DEVFN_ANSWER.exec(p);
  if (!m) throw new XentoolError('ERR_DM_PROTOCOL', `domain ${domid}'s device model: wrong format for the vdevfn: '${p ?? ''}'`);
  return Number.parseInt(m[1]!, 16);
}


/**
 * Waits until qemu-dm can take a command: `state` present and idle (`running`, or an answer a
 * toolstack left behind, which is put back to `running` so that the next answer is a change),
 * and no earlier command still unread. libxl waits for `running` only (60 s); a leftover
 * `pci-removed` from a guest that ejected after the toolstack had given up would block it for good.
 */
async function dmReady(c: StepContext, domid: number, timeoutMs: number): Promise<void> {
  const base = dmPath(domid);
  const state = await waitFor(
    c.xs,
    base,
    async () => {
      const [st, cmd] = await Promise.all([c.xs.read(`${base}/state`), c.xs.read(`${base}/command`)]);
      return st !== undefined && cmd === undefined && (st === 'running' || ANSWERS.has(st)) ? st : undefined;
    },
    { timeoutMs, what: `domain ${domid}'s device model to be ready for commands` },
  ).catch(async (e: unknown) => {
    const st = await c.xs.read(`${base}/state`);
    throw new XentoolError(
      'ERR_DM_NOT_READY',
      `domain ${domid}'s device model (qemu-traditional) is not ready for commands (${base}/state is ${st === undefined ? 'missing' : `'${st}'`})`,
      1,
      { cause: e },
    );
  });
  if (state !== 'running') await c.xs.write(`${base}/state`, 'running');
}

/** Removes `command` if qemu-dm never read it, and puts `parameter` back as it was. */
async function withdraw(c: StepContext, domid: number, cmd: string, prevParameter: string | undefined): Promise<void> {
  const base = dmPath(domid);
  await c.xs.transaction(async (tx) => {
    if ((await tx.read(`${base}/command`)) === cmd) await tx.rm(`${base}/command`);
    if (prevParameter === undefined) await tx.rm(`${base}/parameter`);
    else await tx.write(`${base}/parameter`, prevParameter);
  });
}

const setParameter = (domid: number, value: string | undefined): Step => ({ op: 'xs.set', path: `${dmPath(domid)}/parameter`, value: value ?? null });

export function qemuTradHandlers(c: StepContext): Record<string, StepHandler> {
  return {
    'qemuTrad.pciIns': {
      describe: (st) =>
        `device model (qemu-traditional) pci-ins ${s(st, 'bdf')}${st.vdevfn !== undefined ? ` at guest slot 0x${(n(st, 'vdevfn') >> 3).toString(16)}` : ''} for domain ${n(st, 'domid')}, and wait for pci-inserted (up to ${n(st, 'timeoutMs') / 1000} s)`,
      apply: async (st) => {
        const domid = n(st, 'domid');
        const b = bdfOf(st);
        const timeoutMs = n(st, 'timeoutMs') || 10_000;
        const base = dmPath(domid);
        const prev = await c.xs.read(`${base}/parameter`);
        await dmReady(c, domid, timeoutMs);
        const param = pciInsParameter(b, st.vdevfn === undefined ? undefined : n(st, 'vdevfn'), st.msitranslate === true, st.powerMgmt === true);
        await c.xs.write(`${base}/parameter`, param);
        await c.xs.write(`${base}/command`, 'pci-ins');
        type Answer = { ok: boolean; reason: string };
        let answer: Answer;
        try {
          answer = await waitFor<Answer>(
            c.xs,
            base,
            async () => {
              const [state, p, cmd] = await Promise.all([c.xs.read(`${base}/state`), c.xs.read(`${base}/parameter`), c.xs.read(`${base}/command`)]);
              if (state === 'pci-inserted') return { ok: true, reason: '' };
              if (state === 'pci-insert-failed') return { ok: false, reason: p ?? '' };
              // A refusal: qemu-dm has read the command and replaced our request with its reason.
              if (cmd === undefined && p !== undefined && p !== param && !DEVFN_ANSWER.test(p)) return { ok: false, reason: p };
              return undefined;
            },
            {
              timeoutMs,
              what: `domain ${domid}'s device model to insert ${bdfText(b)}`,
              onTick: (ms) => c.progress(`waiting for domain ${domid}'s device model to insert ${bdfText(b)}: ${(ms / 1000).toFixed(1)} s`),
            },
          );
        } catch (e) {
          await withdraw(c, domid, 'pci-ins', prev);
          throw new XentoolError('ERR_DM_TIMEOUT', `domain ${domid}'s device model (qemu-traditional) did not answer pci-ins for ${bdfText(b)} within ${timeoutMs / 1000} s`, 1, {
            cause: e,
          });
        }
        if (!answer.ok) {
          // A failed step cleans up after itself: qemu-dm added nothing, so its mailbox and state
          // go back to how they were.
          if ((await c.xs.read(`${base}/state`)) !== 'running') await c.xs.write(`${base}/state`, 'running');
          await withdraw(c, domid, 'pci-ins', prev);
          const slot = st.vdevfn !== undefined ? ` (guest slot 0x${(n(st, 'vdevfn') >> 3).toString(16)} may be used by one of its emulated devices)` : '';
          throw new XentoolError('ERR_DM_REFUSED', `domain ${domid}'s device model refused to add ${bdfText(b)}: ${answer.reason}${slot}`);
        }
        // Undo: take it out of the guest again (forced: a rollback must not stop at a guest
        // that ignores the ejection request), answer back to running, mailbox as it was.
        return [
          { op: 'qemuTrad.pciRem', domid, bdf: bdfText(b), vdevfn: await tradVdevfn(c, domid), timeoutMs, force: true },
          { op: 'qemuTrad.resume', domid },
          setParameter(domid, prev),
        ];
      },
    },
    'qemuTrad.pciRem': {
      describe: (st) =>
        `device model (qemu-traditional) pci-rem ${s(st, 'bdf')} for domain ${n(st, 'domid')}, and wait for the guest to eject it (up to ${n(st, 'timeoutMs') / 1000} s)`,
      apply: async (st) => {
        const domid = n(st, 'domid');
        const b = bdfOf(st);
        const timeoutMs = n(st, 'timeoutMs') || 10_000;
        const force = st.force === true;
        const base = dmPath(domid);
        const rec = (await readAttached(c.xs, domid)).find((a) => sameBdf(a, b));
        const vdevfn = st.vdevfn !== undefined ? n(st, 'vdevfn') : rec?.vdevfn;
        const prev = await c.xs.read(`${base}/parameter`);
        const undo: Step[] = [
          {
            op: 'qemuTrad.pciIns',
            domid,
            bdf: bdfText(b),
            ...(vdevfn !== undefined ? { vdevfn } : {}),
            msitranslate: rec?.opts.msitranslate === '1',
            powerMgmt: rec?.opts.power_mgmt === '1',
            timeoutMs,
          },
          { op: 'qemuTrad.resume', domid },
          setParameter(domid, prev),
        ];
        await dmReady(c, domid, timeoutMs);
        await c.xs.write(`${base}/parameter`, bdfText(b));
        if (vdevfn !== undefined && (vdevfn & 7) !== 0) {
          // qemu-dm ejects whole slots and ignores pci-rem for any other function; libxl signals
          // function 0 only, which takes the slot's other functions with it.
          c.warn(`${bdfText(b)} is function ${vdevfn & 7} of guest slot 0x${(vdevfn >> 3).toString(16)}: qemu-traditional removes it from the guest when function 0 of that slot is detached`);
          return [setParameter(domid, prev)];
        }
        await c.xs.write(`${base}/command`, 'pci-rem');
        try {
          await waitFor(c.xs, `${base}/state`, async () => ((await c.xs.read(`${base}/state`)) === 'pci-removed' ? true : undefined), {
            timeoutMs,
            what: `domain ${domid} to eject ${bdfText(b)}`,
            onTick: (ms) => c.progress(`waiting for domain ${domid} to eject ${bdfText(b)}: ${(ms / 1000).toFixed(1)} s`),
          });
        } catch (e) {
          if (force) {
            c.warn(
              `timed out waiting for domain ${domid} to eject ${bdfText(b)}; continuing (-f): qemu-dm still shows the device to the guest until it acknowledges the ejection`,
            );
            // The device never left qemu-dm, so there is nothing to plug back in.
            return [setParameter(domid, prev)];
          }
          await withdraw(c, domid, 'pci-rem', prev);
          throw new XentoolError(
            'ERR_GUEST_TIMEOUT',
            `timed out after ${timeoutMs / 1000} s waiting for domain ${domid} to eject ${bdfText(b)} (qemu-traditional pci-rem); the device is still attached (use -f to remove it anyway)`,
            1,
            { cause: e },
          );
        }
        return undo;
      },
    },
    'qemuTrad.resume': {
      describe: (st) => `set domain ${n(st, 'domid')}'s device-model state back to running`,
      // No undo: `state` only carries qemu-dm's last answer, and the next command treats any
      // answer as idle; what the answer was about is undone by the command step's own undo.
      apply: async (st) => {
        const path = `${dmPath(n(st, 'domid'))}/state`;
        if ((await c.xs.read(path)) !== 'running') await c.xs.write(path, 'running');
        return [];
      },
    },
  };
}

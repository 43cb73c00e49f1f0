/**
 * The xentool subcommands. Each lives in its own file named after the subcommand and exports
 * `command: CommandSpec`; spec modules hold only their options and import their
 * implementation lazily inside `run`, so loading this list stays cheap.
 * Add one import and one array entry per command, keeping both sorted by name.
 */
import type { CommandSpec } from '../command';
import { command as configDump } from './config-dump';
import { command as consoleCmd } from './console';
import { command as create } from './create';
import { command as demo } from './demo';
import { command as destroy } from './destroy';
import { command as domid } from './domid';
import { command as domname } from './domname';
import { command as info } from './info';
import { command as list } from './list';
import { command as pause } from './pause';
import { command as pciAssignableAdd } from './pci-assignable-add';
import { command as pciAssignableList } from './pci-assignable-list';
import { command as pciAssignableRemove } from './pci-assignable-remove';
import { command as pciAttach } from './pci-attach';
import { command as pciAudit } from './pci-audit';
import { command as pciCheck } from './pci-check';
import { command as pciDetach } from './pci-detach';
import { command as pciDevices } from './pci-devices';
import { command as pciHideLine } from './pci-hide-line';
import { command as pciList } from './pci-list';
import { command as pciRecover } from './pci-recover';
import { command as pciSpec } from './pci-spec';
import { command as reboot } from './reboot';
import { command as shutdown } from './shutdown';
import { command as simCreate } from './sim-create';
import { command as simDestroy } from './sim-destroy';
import { command as simGuest } from './sim-guest';
import { command as simInit } from './sim-init';
import { command as unpause } from './unpause';
import { command as xenstored } from './xenstored';

export function allCommands(): CommandSpec[] {
  return [
    configDump,
    consoleCmd,
    create,
    demo,
    destroy,
    domid,
    domname,
    info,
    list,
    pause,
    pciAssignableAdd,
    pciAssignableList,
    pciAssignableRemove,
    pciAttach,
    pciAudit,
    pciCheck,
    pciDetach,
    pciDevices,
    pciHideLine,
    pciList,
    pciRecover,
    pciSpec,
    reboot,
    shutdown,
    simCreate,
    simDestroy,
    simGuest,
    simInit,
    unpause,
    xenstored,
  ];
}

/**
 * The xentool subcommands. Each lives in its own file named after the subcommand and exports
 * `command: CommandSpec`; spec modules hold only their options and import their
 * implementation lazily inside `run`, so loading this list stays cheap.
 * Add one import and one array entry per command, keeping both sorted by name.
 */
import type { CommandSpec } from '../command';
import { command as configDump } from './config-dump';
import { command as info } from './info';
import { command as list } from './list';
import { command as pciCheck } from './pci-check';
import { command as pciDevices } from './pci-devices';
import { command as pciHideLine } from './pci-hide-line';
import { command as pciSpec } from './pci-spec';

export function allCommands(): CommandSpec[] {
  return [configDump, info, list, pciCheck, pciDevices, pciHideLine, pciSpec];
}

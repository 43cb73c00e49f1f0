import type { CommandSpec } from '../command';
import { guestControlCommand } from './shutdown';

/** `xentool reboot [-w] DOMAIN`: xl reboot (PV guests: through control/shutdown). */
export const command: CommandSpec = guestControlCommand('reboot', 'Issue a reboot signal to a domain', 'reboot');

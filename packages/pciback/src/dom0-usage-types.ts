/** Why dom0 itself needs a device; assigning it away would cut the branch dom0 sits on. */
export interface Dom0Usage {
  bdf: string;
  kind: 'block' | 'network' | 'console';
  /** e.g. `/dev/vda mounted on /`, `eth0 carries the default route`, `console ttyS0`. */
  detail: string;
}

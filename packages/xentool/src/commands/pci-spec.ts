import type { CommandSpec } from '../command';

/** `xentool pci-spec [--json] [--xm|--bdf] SPEC...` (see pci-spec/pci-spec-command.ts). */
export const command: CommandSpec = {
  command: 'pci-spec <specs..>',
  describe: 'Parse PCI_SPEC_STRINGs (xl; --xm for xm forms, --bdf for a bare BDF) and print the devices',
  builder: (y) =>
    y
      .positional('specs', { type: 'string', array: true, describe: 'PCI specs' })
      .option('json', { type: 'boolean', default: false, describe: 'JSON, fields as in libxl_device_pci' })
      .option('xm', { type: 'boolean', describe: "xm's forms: function lists, ranges, phys=virt" })
      .option('bdf', { type: 'boolean', describe: "xlu_pci_parse_bdf: a BDF, the rest ignored (pci-assignable-add)" })
      .conflicts('xm', 'bdf'),
  run: async (args, ctx) => {
    const { runPciSpec } = await import('../pci-spec/pci-spec-command');
    return runPciSpec(
      {
        specs: ((args.specs as unknown[] | undefined) ?? []).map(String),
        json: Boolean(args.json),
        xm: Boolean(args.xm),
        bdf: Boolean(args.bdf),
      },
      ctx,
    );
  },
};

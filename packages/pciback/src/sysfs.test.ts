import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Sysfs, readAttr, readHexAttr } from './sysfs';
import { PcibackError } from './errors';

describe('Sysfs on a real directory tree', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sysfs-'));
  fs.mkdirSync(path.join(root, 'devices/pci0000:00/0000:00:03.0'), { recursive: true });
  fs.mkdirSync(path.join(root, 'bus/pci/devices'), { recursive: true });
  fs.writeFileSync(path.join(root, 'devices/pci0000:00/0000:00:03.0/vendor'), '0x1af4\n');
  fs.symlinkSync('../../../devices/pci0000:00/0000:00:03.0', path.join(root, 'bus/pci/devices/0000:00:03.0'));
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
  const sys = new Sysfs({ root });

  it('reads through links and reports paths inside the tree', () => {
    expect(readHexAttr(sys, '/bus/pci/devices/0000:00:03.0/vendor')).toBe(0x1af4);
    expect(sys.realpath('/bus/pci/devices/0000:00:03.0')).toBe('/devices/pci0000:00/0000:00:03.0');
    expect(sys.readlink('/bus/pci/devices/0000:00:03.0')).toBe('../../../devices/pci0000:00/0000:00:03.0');
    expect(readAttr(sys, '/bus/pci/devices/0000:00:03.0/absent')).toBeUndefined();
  });

  it('never creates an attribute that does not exist: ENOENT with the full path', () => {
    let err: PcibackError | undefined;
    try {
      sys.writeFile('/bus/pci/drivers/pciback/bind', '0000:00:03.0');
    } catch (e) {
      err = e as PcibackError;
    }
    expect(err).toMatchObject({ code: 'ERR_SYSFS_IO', errno: 'ENOENT', syscall: 'open', path: path.join(root, 'bus/pci/drivers/pciback/bind') });
    expect(fs.existsSync(path.join(root, 'bus/pci/drivers'))).toBe(false);
  });

  it('writes exactly the bytes given, without a newline', () => {
    const f = path.join(root, 'devices/pci0000:00/0000:00:03.0/driver_override');
    fs.writeFileSync(f, '');
    sys.writeFile('/bus/pci/devices/0000:00:03.0/driver_override', 'pciback');
    expect(fs.readFileSync(f, 'utf8')).toBe('pciback');
  });
});

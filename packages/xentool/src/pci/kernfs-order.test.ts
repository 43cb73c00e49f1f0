import { kernfsNameHash, kernfsOrder } from './kernfs-order';

describe('kernfsOrder', () => {
  test('orders pciback devices as xl pci-assignable-list printed them on real Xen (kernel 6.1)', () => {
    const byName = ['0000:00:04.0', '0000:00:05.0', '0000:00:06.0', '0000:01:01.0', '0000:01:02.0'];
    expect(kernfsOrder(byName)).toEqual(['0000:01:01.0', '0000:00:04.0', '0000:00:06.0', '0000:01:02.0', '0000:00:05.0']);
  });

  test('hashes stay in kernfs range and are deterministic', () => {
    for (const n of ['', 'a', 'bind', '0000:00:04.0']) {
      const h = kernfsNameHash(n);
      expect(h).toBeGreaterThanOrEqual(2);
      expect(h).toBeLessThan(0x7fffffff);
      expect(kernfsNameHash(n)).toBe(h);
    }
    // The empty name hashes to 0, which kernfs moves past its reserved values.
    expect(kernfsNameHash('')).toBe(2);
  });
});

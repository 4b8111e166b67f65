import { describe, expect, it } from 'vitest';
import { isPlainHttpRegistry } from './exec.ts';

describe('isPlainHttpRegistry', () => {
  it('is true for loopback and for listed hosts only', () => {
    expect(isPlainHttpRegistry('127.0.0.1:5000/team/app:1')).toBe(true);
    expect(isPlainHttpRegistry('localhost/team/app')).toBe(true);
    expect(isPlainHttpRegistry('10.88.0.1:5000/team/app')).toBe(false);
    process.env.FORGE_INSECURE_REGISTRIES = 'registry.test:5000, 10.88.0.1:5000';
    try {
      expect(isPlainHttpRegistry('10.88.0.1:5000/team/app')).toBe(true);
      expect(isPlainHttpRegistry('10.88.0.1:5001/team/app')).toBe(false);
    } finally {
      delete process.env.FORGE_INSECURE_REGISTRIES;
    }
  });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { restrictedAddressReason } from './address-policy.ts';

test('link-local and cloud metadata addresses are refused, others pass', () => {
  for (const address of ['169.254.169.254', '169.254.0.1', 'fe80::1', 'fd00:ec2::254', '100.100.100.200', '::ffff:169.254.169.254']) {
    assert.match(restrictedAddressReason(address) ?? '', /link-local or cloud metadata/, address);
  }
  for (const address of ['127.0.0.1', '::1', '10.0.0.5', '192.168.1.10', '203.0.113.7', '2001:db8::1', '100.100.100.201']) {
    assert.equal(restrictedAddressReason(address), undefined, address);
  }
  assert.match(restrictedAddressReason('example.com') ?? '', /not an IP address/);
});

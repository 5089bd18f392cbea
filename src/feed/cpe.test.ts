import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareCpeValues, cpeText, isCpeMatch, parseCpe } from './cpe.ts';
import { FeedError } from './types.ts';

const where = { file: 'test.json', record: 'CVE-0000-0000', path: '$.criteria' };

test('parseCpe() reads the 11 attributes of a formatted string (NISTIR 7695 §6.2)', () => {
  const cpe = parseCpe('cpe:2.3:o:dlink:dir-859_firmware:1.06b01:beta1:*:*:*:*:*:*', where);
  assert.equal(cpe.part, 'o');
  assert.equal(cpeText(cpe.vendor), 'dlink');
  assert.equal(cpeText(cpe.product), 'dir-859_firmware');
  assert.equal(cpeText(cpe.version), '1.06b01');
  assert.equal(cpeText(cpe.update), 'beta1');
  assert.deepEqual(cpe.other, { kind: 'any' });
});

test('parseCpe() unescapes quoted characters and does not split at \\:', () => {
  // Real NVD criteria (CVE-2021-36260): \/ and \( \) inside the product.
  assert.equal(cpeText(parseCpe('cpe:2.3:h:hikvision:ds-2cd2026g2-iu\\/sl:-:*:*:*:*:*:*:*', where).product), 'ds-2cd2026g2-iu/sl');
  assert.equal(cpeText(parseCpe('cpe:2.3:h:hikvision:ds-2cd2066g2-i\\(u\\):-:*:*:*:*:*:*:*', where).product), 'ds-2cd2066g2-i(u)');
  const colon = parseCpe('cpe:2.3:a:vendor:name\\:with\\:colons:1\\.0\\+:*:*:*:*:*:*:*', where);
  assert.equal(cpeText(colon.product), 'name:with:colons');
  assert.equal(cpeText(colon.version), '1.0+');
  assert.equal(cpeText(parseCpe('cpe:2.3:a:v:back\\\\slash:*:*:*:*:*:*:*:*', where).product), 'back\\slash');
  // A quoted \* or \- is a literal, not ANY or NA.
  assert.deepEqual(parseCpe('cpe:2.3:a:v:p:\\-:*:*:*:*:*:*:*', where).version, { kind: 'value', value: '-', pattern: false });
  assert.deepEqual(parseCpe('cpe:2.3:a:v:p:\\*:*:*:*:*:*:*:*', where).version, { kind: 'value', value: '*', pattern: false });
});

test('parseCpe() distinguishes ANY (*) from NA (-) and marks unquoted wildcards as patterns', () => {
  const cpe = parseCpe('cpe:2.3:h:dlink:dns-320:-:*:*:*:*:*:*:*', where);
  assert.deepEqual(cpe.version, { kind: 'na' });
  assert.deepEqual(cpe.update, { kind: 'any' });
  assert.equal(cpeText(cpe.version), null);
  const pattern = parseCpe('cpe:2.3:o:v:p:6.4*:*:*:*:*:*:*:*', where).version;
  assert.deepEqual(pattern, { kind: 'value', value: '6.4*', pattern: true });
  assert.equal(cpeText(pattern), null);
});

test('parseCpe() is case-insensitive (values are lower-cased, prefix any case)', () => {
  const cpe = parseCpe('CPE:2.3:H:D-Link:DNS-320L:A1:*:*:*:*:*:*:*', where);
  assert.equal(cpe.part, 'h');
  assert.equal(cpeText(cpe.vendor), 'd-link');
  assert.equal(cpeText(cpe.product), 'dns-320l');
});

test('parseCpe() refuses malformed strings with BAD_CPE', () => {
  const bad = [
    'cpe:/h:dlink:dns-320', // CPE 2.2 URI binding, not a formatted string
    'cpe:2.3:h:dlink:dns-320:-:*:*:*:*:*:*', // 10 attributes
    'cpe:2.3:h:dlink:dns-320:-:*:*:*:*:*:*:*:*', // 12 attributes
    'cpe:2.3:x:dlink:dns-320:-:*:*:*:*:*:*:*', // part not a/o/h
    'cpe:2.3:h:dlink::-:*:*:*:*:*:*:*', // empty component
    'cpe:2.3:h:dlink:dns 320:-:*:*:*:*:*:*:*', // whitespace
    'cpe:2.3:h:dlink:dns-320:-:*:*:*:*:*:*:\\', // trailing lone backslash
    `cpe:2.3:h:dlink:${'a'.repeat(2000)}:-:*:*:*:*:*:*:*`, // too long
    '',
  ];
  for (const text of bad) {
    assert.throws(() => parseCpe(text, where), (e: unknown) => e instanceof FeedError && e.code === 'BAD_CPE' && e.message.includes('$.criteria'), text);
  }
});

test('compareCpeValues() follows NISTIR 7696 Table 6-2 for ANY, NA and values', () => {
  const any = { kind: 'any' } as const;
  const na = { kind: 'na' } as const;
  const v = (value: string, pattern = false) => ({ kind: 'value', value, pattern }) as const;
  assert.equal(compareCpeValues(any, v('x')), 'SUPERSET');
  assert.equal(compareCpeValues(any, any), 'EQUAL');
  assert.equal(compareCpeValues(v('x'), any), 'SUBSET');
  assert.equal(compareCpeValues(na, na), 'EQUAL');
  assert.equal(compareCpeValues(na, v('x')), 'DISJOINT');
  assert.equal(compareCpeValues(v('x'), na), 'DISJOINT');
  assert.equal(compareCpeValues(v('dns-320'), v('dns-320')), 'EQUAL');
  assert.equal(compareCpeValues(v('dns-320'), v('dns-320l')), 'DISJOINT');
  assert.equal(compareCpeValues(v('6.4*', true), v('6.42')), 'SUPERSET');
  assert.equal(compareCpeValues(v('6.4?', true), v('6.421')), 'DISJOINT');
});

test('isCpeMatch() matches case-insensitively and never by substring', () => {
  const source = parseCpe('cpe:2.3:h:dlink:dns-320:*:*:*:*:*:*:*:*', where);
  assert.equal(isCpeMatch(source, parseCpe('cpe:2.3:h:DLINK:DNS-320:a1:*:*:*:*:*:*:*', where)), true);
  assert.equal(isCpeMatch(source, parseCpe('cpe:2.3:h:dlink:dns-320l:a1:*:*:*:*:*:*:*', where)), false);
  assert.equal(isCpeMatch(source, parseCpe('cpe:2.3:o:dlink:dns-320:a1:*:*:*:*:*:*:*', where)), false);
  const na = parseCpe('cpe:2.3:h:dlink:dns-320:-:*:*:*:*:*:*:*', where);
  assert.equal(isCpeMatch(na, parseCpe('cpe:2.3:h:dlink:dns-320:a1:*:*:*:*:*:*:*', where)), false);
});

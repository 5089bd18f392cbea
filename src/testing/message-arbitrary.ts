/**
 * fast-check arbitraries for every Tattler message and document (requests, verdicts, feed
 * records, buckets, policies, key certificates, roots), valid by construction and small enough
 * for their size limits, so `decode(encode(x))` can be compared with `x`.
 * @module
 */
import fc from 'fast-check';
import { checkPublicKey } from '../crypto/index.ts';
import {
  bucketEntryBytes,
  encodeFeedRecordPayload,
  encodePolicyPayload,
  MAX_BUCKET_PAGES,
  MAX_VERDICT_LIFETIME_SECONDS,
  prefixOfBucket,
  type Bucket,
  type BucketEntry,
  type CertificateQuery,
  type FeedRecord,
  type IdentifiedAnnouncement,
  type Interval,
  type IpPrefix,
  type KeyCertificate,
  type Policy,
  type PrivateAnnouncement,
  type RangeSet,
  type Request,
  type RequestFrame,
  type Root,
  type RootQuery,
  type Status,
  type Verdict,
  type VersionClaim,
} from '../protocol/index.ts';

const plain = { noNullPrototype: true } as const;

const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(0x20 + i));
const textUnit = fc.oneof(
  { weight: 9, arbitrary: fc.constantFrom(...PRINTABLE) },
  { weight: 1, arbitrary: fc.constantFrom('é', 'ü', 'ß', '中', '水', '😀', '\u00a0') },
);

/** Non-empty text without control characters, of 1..maxChars characters (≤ 4·maxChars bytes). */
export function wireText(maxChars: number): fc.Arbitrary<string> {
  return fc.string({ unit: textUnit, minLength: 1, maxLength: maxChars });
}

/** A canonical vendor or model name ([P-4.1-1]) of at most 20 characters. */
export const canonicalNameArbitrary: fc.Arbitrary<string> = fc.string({
  unit: fc.constantFrom(...Array.from('abcdefghijklmnopqrstuvwxyz0123456789'), 'ü', '+'),
  minLength: 1,
  maxLength: 20,
});

/** An advisory id: a CVE id that fits the wire's uint32 ([P-4.3-1]), a GHSA id or other text. */
export const advisoryId: fc.Arbitrary<string> = fc.oneof(
  fc
    .tuple(fc.integer({ min: 2000, max: 2427 }), fc.integer({ min: 0, max: 9_999_999 }))
    .map(([year, n]) => `CVE-${year}-${String(n).padStart(4, '0')}`),
  fc
    .string({
      unit: fc.constantFrom(...Array.from('23456789cfghjmpqrvwx')),
      minLength: 4,
      maxLength: 4,
    })
    .map((s) => `GHSA-${s}-${s}-${s}`),
  wireText(12),
);

const unixSeconds = fc.integer({ min: 0, max: 2 ** 32 });
const validity = fc
  .tuple(unixSeconds, fc.integer({ min: 1, max: 2 ** 31 }))
  .map(([from, span]) => [from, from + span] as const);
/** A 16-byte nonce. */
export const nonceArbitrary: fc.Arbitrary<Uint8Array> = fc.uint8Array({
  minLength: 16,
  maxLength: 16,
});
const nonce = nonceArbitrary;
const address = fc.oneof(
  fc.uint8Array({ minLength: 4, maxLength: 4 }),
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
);
const bucketPrefixBytes = fc.integer({ min: 0, max: 4095 }).map(prefixOfBucket);

/** An IPv4 or IPv6 prefix with its host bits zero. */
export const ipPrefixArbitrary: fc.Arbitrary<IpPrefix> = fc
  .tuple(
    fc.constantFrom(4, 16),
    fc.uint8Array({ minLength: 16, maxLength: 16 }),
    fc.nat({ max: 128 }),
  )
  .map(([size, random, n]) => {
    const length = n % (size * 8 + 1);
    const bytes = random.slice(0, size);
    for (let bit = length; bit < size * 8; bit++)
      bytes[bit >> 3] = (bytes[bit >> 3] ?? 0) & ~(0x80 >> (bit & 7));
    return { address: bytes, length };
  });

/** A raw 32-byte public key that checkPublicKey() accepts. */
export const rawPublicKey: fc.Arbitrary<Uint8Array> = fc
  .uint8Array({ minLength: 32, maxLength: 32 })
  .filter((raw) => checkPublicKey(raw) === undefined);

const versionClaim: fc.Arbitrary<VersionClaim> = fc.record(
  { version: wireText(16), scheme: fc.maxSafeInteger() },
  { requiredKeys: ['version'], ...plain },
);

const identified: fc.Arbitrary<IdentifiedAnnouncement> = fc.record(
  {
    kind: fc.constant('identified' as const),
    nonce,
    vendor: canonicalNameArbitrary,
    model: canonicalNameArbitrary,
    swName: wireText(16),
    swVersion: versionClaim,
    hwVersion: versionClaim,
    hwModel: fc.uint8Array({ minLength: 1, maxLength: 32 }),
    oemId: fc.oneof(
      fc.uint8Array({ minLength: 3, maxLength: 3 }),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.nat({ max: Number.MAX_SAFE_INTEGER }),
    ),
    cpe: wireText(40).map((s) => `cpe:2.3:${s}`),
    mudUrl: wireText(40).map((s) => `https://${s}`),
    sbomUrl: wireText(40).map((s) => `https://${s}`),
    quarantined: fc.boolean(),
  },
  {
    requiredKeys: ['kind', 'nonce', 'vendor', 'model', 'swName', 'swVersion', 'quarantined'],
    ...plain,
  },
);

const privateAnnouncement: fc.Arbitrary<PrivateAnnouncement> = fc.record(
  {
    kind: fc.constant('private' as const),
    nonce,
    prefix: bucketPrefixBytes,
    page: fc.integer({ min: 0, max: MAX_BUCKET_PAGES - 1 }),
  },
  plain,
);
const certificateQuery: fc.Arbitrary<CertificateQuery> = fc.record(
  { kind: fc.constant('certificate' as const), kid: fc.uint8Array({ minLength: 8, maxLength: 8 }) },
  plain,
);
const rootQuery: fc.Arbitrary<RootQuery> = fc.record(
  { kind: fc.constant('root' as const), version: fc.integer({ min: 1, max: 0xffffffff }) },
  plain,
);

/** Any request of any kind. */
export const requestArbitrary: fc.Arbitrary<Request> = fc.oneof(
  identified,
  privateAnnouncement,
  certificateQuery,
  rootQuery,
);

/** The CoAP fields of a request. */
export const frameArbitrary: fc.Arbitrary<RequestFrame> = fc.record(
  { messageId: fc.integer({ min: 0, max: 0xffff }), token: fc.uint8Array({ maxLength: 8 }) },
  plain,
);

const shortVersion = wireText(8);
const interval: fc.Arbitrary<Interval> = fc.oneof(
  fc.record({ kind: fc.constant('exact' as const), version: wireText(16) }, plain),
  fc.record(
    {
      kind: fc.constant('exact-list' as const),
      prefix: shortVersion,
      suffixes: fc.array(shortVersion, { minLength: 1, maxLength: 4 }),
    },
    plain,
  ),
  fc
    .record(
      {
        lower: fc.option(shortVersion, { nil: null }),
        upper: fc.option(shortVersion, { nil: null }),
        lowerInclusive: fc.boolean(),
        upperInclusive: fc.boolean(),
      },
      plain,
    )
    .map((r) => ({
      kind: 'range' as const,
      lower: r.lower,
      upper: r.upper,
      // [P-4.4-1] an unbounded end is never inclusive.
      lowerInclusive: r.lower !== null && r.lowerInclusive,
      upperInclusive: r.upper !== null && r.upperInclusive,
    })),
);

/** A range set of 1..4 members. */
export const rangeSetArbitrary: fc.Arbitrary<RangeSet> = fc.record(
  {
    scheme: fc.constant(0 as const),
    intervals: fc.array(interval, { minLength: 1, maxLength: 4 }),
  },
  plain,
);

const cvss10 = fc.option(fc.integer({ min: 0, max: 100 }), { nil: null });

/** A feed record whose signed form stays under 1050 bytes. */
export const feedRecordArbitrary: fc.Arbitrary<FeedRecord> = fc
  .record(
    {
      vendor: canonicalNameArbitrary,
      model: canonicalNameArbitrary,
      hwVersions: fc.array(shortVersion, { maxLength: 3 }),
      ranges: rangeSetArbitrary,
      advisories: fc.array(advisoryId, { minLength: 1, maxLength: 6 }),
      cvss10,
      kev: fc.boolean(),
      fixed: fc.array(shortVersion, { maxLength: 3 }),
      remediationHosts: fc.array(wireText(30), { maxLength: 4 }),
      eligible: fc.boolean(),
      feedVersion: fc.nat({ max: 2 ** 32 }),
      validity,
    },
    plain,
  )
  .map(({ validity: [issuedAt, expiresAt], ...rest }) => ({ ...rest, issuedAt, expiresAt }))
  .filter((record) => encodeFeedRecordPayload(record).byteLength <= 940);

const entryTag = fc.uint8Array({ minLength: 6, maxLength: 6 });
const tinyVersion = wireText(3);

/** A bucket entry of at most 56 encoded bytes. */
export const bucketEntryArbitrary: fc.Arbitrary<BucketEntry> = fc
  .record(
    {
      tag: entryTag,
      eligible: fc.boolean(),
      kev: fc.boolean(),
      cvss10,
      hwVersions: fc.array(tinyVersion, { maxLength: 1 }),
      ranges: fc.record(
        {
          scheme: fc.constant(0 as const),
          intervals: fc.array(interval, { minLength: 1, maxLength: 1 }),
        },
        plain,
      ),
      fixed: fc.array(tinyVersion, { maxLength: 1 }),
      advisories: fc.array(advisoryId, { minLength: 1, maxLength: 2 }),
    },
    plain,
  )
  .filter((entry) => bucketEntryBytes(entry) <= 56);

/** One bucket page of 0..8 entries. */
export const bucketArbitrary: fc.Arbitrary<Bucket> = fc
  .record(
    {
      feedVersion: fc.nat({ max: 2 ** 32 }),
      prefix: bucketPrefixBytes,
      pages: fc.integer({ min: 1, max: MAX_BUCKET_PAGES }),
      pageSeed: fc.nat(),
      validity,
      entries: fc.array(bucketEntryArbitrary, { maxLength: 8 }),
    },
    plain,
  )
  .map(({ pageSeed, validity: [issuedAt, expiresAt], ...rest }) => ({
    ...rest,
    page: pageSeed % rest.pages,
    issuedAt,
    expiresAt,
  }));

/** A policy document whose signed form stays under 200 bytes. */
export const policyArbitrary: fc.Arbitrary<Policy> = fc
  .record(
    {
      operator: wireText(16),
      validity,
      kevOnly: fc.boolean(),
      minCvss10: fc.integer({ min: 0, max: 100 }),
      warnOnly: fc.boolean(),
      deny: fc.array(advisoryId, { maxLength: 3 }),
      allow: fc.array(advisoryId, { maxLength: 3 }),
    },
    plain,
  )
  .map(({ validity: [issuedAt, expiresAt], ...rest }) => ({ ...rest, issuedAt, expiresAt }))
  .filter((policy) => encodePolicyPayload(policy).byteLength <= 105);

/** A key certificate with 1..16 scope prefixes and a validity of 1 s..7 days. */
export const keyCertificateArbitrary: fc.Arbitrary<KeyCertificate> = fc
  .record(
    {
      subject: rawPublicKey,
      operator: wireText(16),
      scope: fc.array(ipPrefixArbitrary, { minLength: 1, maxLength: 16 }),
      notBefore: unixSeconds,
      span: fc.integer({ min: 1, max: 7 * 24 * 3600 }),
    },
    plain,
  )
  .map(({ span, ...rest }) => ({ ...rest, notAfter: rest.notBefore + span }));

const distinctKeys = (max: number): fc.Arbitrary<Uint8Array[]> =>
  fc.uniqueArray(rawPublicKey, {
    minLength: 1,
    maxLength: max,
    selector: (k) => Buffer.from(k).toString('hex'),
  });

/** A root document: 1..5 root keys with a threshold, 1..4 feed and registry keys. */
export const rootArbitrary: fc.Arbitrary<Root> = fc
  .record(
    {
      version: fc.integer({ min: 1, max: 0xffffffff }),
      thresholdSeed: fc.nat(),
      rootKeys: distinctKeys(5),
      feedKeys: distinctKeys(4),
      registryKeys: distinctKeys(4),
      issuedAt: unixSeconds,
    },
    plain,
  )
  .map(({ thresholdSeed, ...rest }) => ({
    ...rest,
    threshold: 1 + (thresholdSeed % rest.rootKeys.length),
  }));

/** Verdict fields without a record, for a status that may go without one. */
export function verdictArbitrary(statuses: readonly Status[]): fc.Arbitrary<Verdict> {
  return fc.record(
    {
      nonce,
      status: fc.constantFrom(...statuses),
      destination: address,
      source: address,
      lifetimeSeconds: fc.integer({ min: 0, max: MAX_VERDICT_LIFETIME_SECONDS }),
      feedVersion: fc.nat({ max: 2 ** 32 }),
    },
    plain,
  );
}

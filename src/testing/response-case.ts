/**
 * Arbitrary answers for property tests: a `ResponseBody` ready for encodeResponse() (documents
 * signed with the fixed test keys) together with the content a decoder must give back.
 * @module
 */
import fc from 'fast-check';
import {
  COAP_CODE,
  encodeCbor,
  encodeUnsignedVerdict,
  readFeedRecord,
  signBucket,
  signFeedRecord,
  signKeyCertificate,
  signPolicy,
  signRoot,
  signVerdict,
  type Response,
  type ResponseBody,
  type Verdict,
} from '../protocol/index.ts';
import {
  bucketArbitrary,
  feedRecordArbitrary,
  keyCertificateArbitrary,
  nonceArbitrary,
  policyArbitrary,
  rootArbitrary,
  verdictArbitrary,
} from './message-arbitrary.ts';
import { TEST_KEYS } from './keys.ts';

/** What a decoded answer says, with signed documents reduced to their content. */
export function contentOf(response: Response): unknown {
  switch (response.kind) {
    case 'verdict':
      return { kind: response.kind, verdict: response.verdict.value };
    case 'unsigned-verdict':
      return { kind: response.kind, verdict: response.verdict };
    case 'private':
      return {
        kind: response.kind,
        nonce: response.nonce,
        bucket: response.bucket.value,
        policy: response.policy.value,
      };
    case 'certificate':
      return { kind: response.kind, certificate: response.certificate.value };
    case 'root':
      return { kind: response.kind, root: response.root.value };
    case 'not-found':
      return { kind: response.kind };
    case 'busy':
      return { kind: response.kind, retryAfterSeconds: response.retryAfterSeconds };
  }
}

/** An answer to encode, the method of the request it answers, and the content it must decode to. */
export interface ResponseCase {
  readonly body: ResponseBody;
  readonly method: number;
  readonly expected: unknown;
}

/** Verdicts of every status; FAIL always and WARN sometimes carry a signed feed record. */
export const anyVerdict: fc.Arbitrary<Verdict> = fc.oneof(
  verdictArbitrary(['pass', 'warn', 'unknown']),
  fc
    .tuple(verdictArbitrary(['fail', 'warn']), feedRecordArbitrary)
    .map(([verdict, record]): Verdict => ({
      ...verdict,
      record: readFeedRecord(signFeedRecord(TEST_KEYS.feed, record)),
    })),
);

const POST = COAP_CODE.POST;
const GET = COAP_CODE.GET;

/** One answer of each kind the collector sends. */
export const responseCase: fc.Arbitrary<ResponseCase> = fc.oneof(
  anyVerdict.map((verdict) => ({
    body: {
      kind: 'verdict' as const,
      signed: encodeCbor(signVerdict(TEST_KEYS.collector, verdict)),
    },
    method: POST,
    expected: { kind: 'verdict', verdict },
  })),
  verdictArbitrary(['pass', 'warn', 'unknown']).map((verdict) => ({
    body: { kind: 'unsigned-verdict' as const, verdict: encodeUnsignedVerdict(verdict) },
    method: POST,
    expected: { kind: 'unsigned-verdict', verdict },
  })),
  fc.tuple(nonceArbitrary, bucketArbitrary, policyArbitrary).map(([nonce, bucket, policy]) => ({
    body: {
      kind: 'private' as const,
      nonce,
      bucket: encodeCbor(signBucket(TEST_KEYS.feed, bucket)),
      policy: encodeCbor(signPolicy(TEST_KEYS.collector, policy)),
    },
    method: POST,
    expected: { kind: 'private', nonce, bucket, policy },
  })),
  keyCertificateArbitrary.map((certificate) => ({
    body: {
      kind: 'certificate' as const,
      certificate: encodeCbor(signKeyCertificate(TEST_KEYS.registry, certificate)),
    },
    method: GET,
    expected: { kind: 'certificate', certificate },
  })),
  rootArbitrary.map((root) => ({
    body: {
      kind: 'root' as const,
      root: encodeCbor(signRoot([TEST_KEYS.root1, TEST_KEYS.root2], root)),
    },
    method: GET,
    expected: { kind: 'root', root },
  })),
  fc.constant({
    body: { kind: 'not-found' as const },
    method: GET,
    expected: { kind: 'not-found' },
  }),
  fc.nat({ max: 0xffffffff }).map((retryAfterSeconds) => ({
    body: { kind: 'busy' as const, retryAfterSeconds },
    method: POST,
    expected: { kind: 'busy', retryAfterSeconds },
  })),
);

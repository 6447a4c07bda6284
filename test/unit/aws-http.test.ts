import { createHash, createHmac } from 'node:crypto';
import { once } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { crc32 } from 'node:zlib';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterEach, describe, expect, it } from 'vitest';
import { AwsHttp, AwsHttpError, awsHttpConfig, sigV4Headers, SigningKeys, type AwsHttpConfig, type AwsRequest, type AwsResponse, type SignedRequest } from '../../lambdas/shared/aws-http';
import { crc32 as jsCrc32, DynamoDbHttp } from '../../lambdas/shared/dynamodb-http';
import { LedgerReader } from '../../lambdas/shared/ledger-reader';
import { LEDGER_KEYS } from '../../lambdas/shared/ledger-schema';
import { S3Http } from '../../lambdas/shared/s3-http';

/*
 * The SDK-free S3 and DynamoDB requests of the inference path (shared/aws-http.ts):
 *   - signatures against AWS's published SigV4 examples (known answers), and
 *     against the SDK's own signer (@smithy/signature-v4) on 84 requests;
 *   - the requests themselves against what the SDK sends for the same call
 *     (host, path, query, operation, body), captured from the SDK's clients;
 *   - retries, timeouts, error names and CRC checks against a local HTTP server.
 * The round trip through s3rver and dynalite is in test/integration/onnx-endpoint.test.ts.
 */

const CREDENTIALS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const config = (overrides: Partial<AwsHttpConfig> = {}): AwsHttpConfig => ({ region: 'us-east-1', credentials: CREDENTIALS, endpoints: {}, useFips: false, ...overrides });

/** An AwsHttp that signs what it would send and answers with `reply` instead of sending. */
class Capturing extends AwsHttp {
  readonly sent: SignedRequest[] = [];
  constructor(
    service: string,
    cfg: AwsHttpConfig,
    private readonly reply: (request: AwsRequest) => AwsResponse = () => ({ statusCode: 200, headers: {}, body: Buffer.from('{}') }),
  ) {
    super(service, cfg);
  }
  override async send(request: AwsRequest, options: { host?: string } = {}): Promise<AwsResponse> {
    this.sent.push(this.sign(request, options.host));
    return this.reply(request);
  }
}

/**
 * SigV4 computed here from AWS's documentation, independently of the signer: S3 signs
 * the path as sent (encoded once); the query is sorted and RFC 3986-encoded.
 */
function documentedSignature(sent: SignedRequest, service: string, secret: string, region = 'us-east-1'): string {
  const rfc3986 = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(sent.headers.authorization!)![1]!.split(';');
  const query = [...sent.url.searchParams].map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`).sort().join('&');
  const canonical = [sent.method, sent.url.pathname, query, ...signedHeaders.map((h) => `${h}:${String(sent.headers[h]).trim()}`), '', signedHeaders.join(';'), sent.headers['x-amz-content-sha256'] ?? createHash('sha256').update(sent.body ?? '').digest('hex')].join('\n');
  const date = sent.headers['x-amz-date']!;
  const scope = `${date.slice(0, 8)}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', date, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  const key = [date.slice(0, 8), region, service, 'aws4_request'].reduce<Buffer | string>((k, part) => createHmac('sha256', k).update(part).digest(), `AWS4${secret}`);
  return createHmac('sha256', key).update(toSign).digest('hex');
}

/** The request an SDK client signs for a command (its handler records it and answers nothing). */
async function sdkRequest(send: (handler: { handle(request: unknown): Promise<never> }) => Promise<unknown>): Promise<{ hostname: string; path: string; query: Record<string, string>; headers: Record<string, string>; body?: unknown }> {
  let captured: unknown;
  const handler = {
    handle: (request: unknown): Promise<never> => {
      captured = request;
      return Promise.reject(Object.assign(new Error('captured'), { name: 'Captured' }));
    },
  };
  await send(handler).catch((err: Error) => {
    if (err.name !== 'Captured') throw err;
  });
  return captured as Awaited<ReturnType<typeof sdkRequest>>;
}

describe('SigV4 signing (AWS\'s published examples)', () => {
  it('signs the SigV4 test suite\'s get-vanilla-query-order-key-case', async () => {
    // Prepare
    const signer = new AwsHttp('service', config({ endpoints: { service: 'https://example.amazonaws.com' } }), { now: () => new Date('2015-08-30T12:36:00Z') });
    // Act
    const signed = signer.sign({ method: 'GET', path: '/', query: { Param2: 'value2', Param1: 'value1' } });
    // Assess
    expect(signed.headers.authorization).toBe('AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500');
  });

  it('signs the S3 GET Object example (unescaped path, payload hash header)', async () => {
    // Prepare
    const s3 = new AwsHttp('s3', config({ credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' } }), { now: () => new Date('2013-05-24T00:00:00Z') });
    const empty = createHash('sha256').update('').digest('hex');
    // Act
    const signed = s3.sign({ method: 'GET', path: '/test.txt', headers: { range: 'bytes=0-9', 'x-amz-content-sha256': empty } }, 'examplebucket.s3.amazonaws.com');
    // Assess
    expect(signed.headers.authorization).toBe('AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41');
    expect(signed.url.href).toBe('https://examplebucket.s3.amazonaws.com/test.txt');
  });

  it('signs the session token and hashes S3 payloads itself', async () => {
    const s3 = new AwsHttp('s3', config({ credentials: { ...CREDENTIALS, sessionToken: 'TOKEN' } }));
    const signed = s3.sign({ method: 'PUT', path: '/k', body: 'abc' });
    expect(signed.headers['x-amz-security-token']).toBe('TOKEN');
    expect(signed.headers['x-amz-content-sha256']).toBe(createHash('sha256').update('abc').digest('hex'));
    expect(signed.headers.authorization).toMatch(/SignedHeaders=content-length;host;x-amz-content-sha256;x-amz-date;x-amz-security-token,/);
  });
});

type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (data: SourceData): string | Uint8Array => (typeof data === 'string' ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength));

/** Node's hashes in the shape the SDK's signer takes (a hash, or an HMAC when given a secret). */
class NodeSha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(this.hash.digest());
  }
}

describe('SigV4 signing, compared with the SDK\'s signer (@smithy/signature-v4)', () => {
  // Paths as they go on the wire (S3 keys are encoded once by the caller); the other services' are normalized and encoded again.
  const paths = ['/', '/a/b', '/a%20b/c%2Bd', "/k*'()!/%C3%BC", '/a/./b/../c/', '//double//slash/', '/~user/-_.'];
  const queries: Record<string, string>[] = [{}, { Param2: 'value2', Param1: 'value1', alpha: 'byte order: P < a' }, { 'x y': 'z w', ü: 'é+&=', a: '' }, { versionId: 'v 1+/2', 'list-type': '2', prefix: "a/b c*'" }];
  const headerSets: Record<string, string>[] = [
    {},
    { 'Content-Type': 'application/x-amz-json-1.0', 'X-Amz-Target': 'DynamoDB_20120810.GetItem' },
    { 'My-Header1': '  a   b  \t c ', 'user-agent': 'not signed', 'X-Amzn-Trace-Id': 'not signed', 'Proxy-Authorization': 'not signed', 'sec-fetch-mode': 'not signed', range: 'bytes=0-9' },
    { 'if-none-match': '*', 'x-amz-checksum-sha256': 'n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=' },
  ];
  const bodies = [undefined, '', '{"a":"ü"}', new Uint8Array([0, 1, 2, 255])];
  const cases = ['s3', 'dynamodb', 'execute-api'].flatMap((service, si) =>
    paths.flatMap((path, pi) =>
      queries.map((query, qi) => ({
        service,
        path,
        query,
        headers: headerSets[(pi + qi + si) % headerSets.length]!,
        body: bodies[(pi * 3 + qi + si) % bodies.length],
        credentials: (pi + qi) % 2 === 0 ? CREDENTIALS : { ...CREDENTIALS, sessionToken: 'FQoG/session+token==' },
        date: new Date(Date.UTC(2026, 11, 1, pi, qi * 7, si * 13)),
      })),
    ),
  );

  it('signs every request as the SDK does: same headers, same signature (84 requests × s3, dynamodb, execute-api)', async () => {
    expect(cases).toHaveLength(84);
    const keys = new SigningKeys();
    for (const c of cases) {
      // Prepare
      const host = `${c.service}.us-west-2.amazonaws.com`;
      const headers = { host, ...(c.body !== undefined ? { 'content-length': String(Buffer.byteLength(c.body)) } : {}), ...c.headers };
      const sdkSigner = new SignatureV4({ service: c.service, region: 'us-west-2', credentials: c.credentials, sha256: NodeSha256, uriEscapePath: c.service !== 's3', applyChecksum: c.service === 's3' });
      // Act
      const ours = sigV4Headers({ method: 'POST', path: c.path, query: c.query, headers, ...(c.body !== undefined ? { body: c.body } : {}) }, { service: c.service, region: 'us-west-2', credentials: c.credentials, date: c.date }, keys);
      const sdk = await sdkSigner.sign({ method: 'POST', protocol: 'https:', hostname: host, path: c.path, query: { ...c.query }, headers: { ...headers }, ...(c.body !== undefined ? { body: c.body } : {}) }, { signingDate: c.date });
      // Assess
      const lower = Object.fromEntries(Object.entries(sdk.headers).map(([k, v]) => [k.toLowerCase(), v]));
      expect(ours, `${c.service} ${c.path} ${JSON.stringify(c.query)}`).toEqual(lower);
    }
  });

  it('keeps a signing key for its day, region, service and secret only', () => {
    // Prepare
    const keys = new SigningKeys();
    const expected = (day: string, secret: string) => ['us-east-1', 's3', 'aws4_request'].reduce<Buffer>((k, part) => createHmac('sha256', k).update(part).digest(), createHmac('sha256', `AWS4${secret}`).update(day).digest());
    // Act
    const first = keys.key('20261201', 'us-east-1', 's3', 'secret');
    const again = keys.key('20261201', 'us-east-1', 's3', 'secret');
    const nextDay = keys.key('20261202', 'us-east-1', 's3', 'secret');
    const rotated = keys.key('20261202', 'us-east-1', 's3', 'rotated');
    // Assess
    expect(first).toEqual(expected('20261201', 'secret'));
    expect(again).toBe(first);
    expect(nextDay).toEqual(expected('20261202', 'secret'));
    expect(rotated).toEqual(expected('20261202', 'rotated'));
  });
});

describe('requests, compared with the SDK\'s for the same call', () => {
  const sdkS3 = (handler: unknown, extra: object = {}) => new S3Client({ region: 'us-east-1', credentials: CREDENTIALS, requestHandler: handler as never, maxAttempts: 1, ...extra });

  it.each([
    ['a plain bucket: virtual-hosted', 'models-bucket', "models/run 1/ü+=&?#(1)*!'.onnx", 'v 1+/2', {}],
    ['a dotted bucket: path style', 'my.models.bucket', 'a/b.onnx', undefined, {}],
    ['an endpoint override: path style on it', 'models-bucket', 'a/b.onnx', undefined, { endpoint: 'http://127.0.0.1:4569' }],
  ])('S3 GetObject, %s', async (_case, bucket, key, versionId, endpoint) => {
    // Prepare
    const overridden = 'endpoint' in endpoint;
    const ours = new Capturing('s3', config(overridden ? { endpoints: { s3: endpoint.endpoint } } : {}), () => ({ statusCode: 200, headers: {}, body: Buffer.from('bytes') }));
    // Act
    const bytes = await new S3Http(ours).getBytes(bucket, key, versionId);
    const sdk = await sdkRequest((h) => sdkS3(h, overridden ? { ...endpoint, forcePathStyle: true } : {}).send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(versionId ? { VersionId: versionId } : {}) })));
    // Assess
    const sent = ours.sent[0]!;
    expect(bytes.toString()).toBe('bytes');
    expect(sent.method).toBe('GET');
    expect(sent.url.host).toBe(sdk.hostname + (overridden ? ':4569' : ''));
    expect(sent.url.pathname).toBe(sdk.path);
    expect({ ...Object.fromEntries(sent.url.searchParams), 'x-id': 'GetObject' }).toEqual(sdk.query); // the SDK names the operation in the query; S3 ignores it
    expect(sent.url.search).toBe(versionId ? `?versionId=${encodeURIComponent(versionId)}` : ''); // on the wire as signed: a space is %20, not '+'
    expect(sent.headers['x-amz-content-sha256']).toBe(sdk.headers['x-amz-content-sha256']);
    expect(sent.headers.authorization).toContain(`Signature=${documentedSignature(sent, 's3', CREDENTIALS.secretAccessKey)}`);
  });

  it('S3 PutObject if absent: the SDK\'s address and conditional header, a SHA-256 checksum (Object Lock requires one)', async () => {
    // Prepare
    const ours = new Capturing('s3', config(), () => ({ statusCode: 200, headers: {}, body: Buffer.alloc(0) }));
    const body = '{"a":1}\n';
    // Act
    const written = await new S3Http(ours).putIfAbsent('artifacts-bucket', 'captures/e/2026/12/01/17/x.jsonl', body, 'application/x-ndjson');
    const sdk = await sdkRequest((h) => sdkS3(h).send(new PutObjectCommand({ Bucket: 'artifacts-bucket', Key: 'captures/e/2026/12/01/17/x.jsonl', Body: body, ContentType: 'application/x-ndjson', IfNoneMatch: '*' })));
    // Assess
    const sent = ours.sent[0]!;
    expect(written).toBe(true);
    expect([sent.method, sent.url.host, sent.url.pathname]).toEqual(['PUT', sdk.hostname, sdk.path]);
    expect(sent.headers['if-none-match']).toBe(sdk.headers['if-none-match']);
    expect(sent.headers['content-type']).toBe(sdk.headers['content-type']);
    expect(sent.headers['x-amz-checksum-sha256']).toBe(createHash('sha256').update(body).digest('base64'));
    expect(sent.headers.authorization).toContain('x-amz-checksum-sha256');
    expect(sent.headers.authorization).toContain(`Signature=${documentedSignature(sent, 's3', CREDENTIALS.secretAccessKey)}`);
  });

  it('DynamoDB GetItem and Query: the DocumentClient\'s operation, host and body (what LedgerStore sends)', async () => {
    // Prepare
    const item = { pk: 'REC#r1', sk: 'REC', body: '{"id":"r1"}', n: 3 };
    const ours = new Capturing('dynamodb', config(), (request) =>
      request.headers?.['x-amz-target']?.endsWith('GetItem')
        ? { statusCode: 200, headers: {}, body: Buffer.from(JSON.stringify({ Item: { pk: { S: 'REC#r1' }, sk: { S: 'REC' }, body: { S: '{"id":"r1"}' }, n: { N: '3' } } })) }
        : { statusCode: 200, headers: {}, body: Buffer.from(JSON.stringify({ Items: [{ body: { S: '{"id":"r1"}' } }] })) },
    );
    const doc = (h: unknown) => DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1', credentials: CREDENTIALS, requestHandler: h as never, maxAttempts: 1 }));
    // Act
    const got = await new DynamoDbHttp(ours).getItem('ledger', LEDGER_KEYS.record('r1'));
    const history = await new LedgerReader(new DynamoDbHttp(ours), 'ledger').history('endpoint/e');
    const sdkGet = await sdkRequest((h) => doc(h).send(new GetCommand({ TableName: 'ledger', Key: LEDGER_KEYS.record('r1'), ConsistentRead: true })));
    const sdkQuery = await sdkRequest((h) => doc(h).send(new QueryCommand({ TableName: 'ledger', ...LEDGER_KEYS.history('endpoint/e') })));
    // Assess
    expect(got).toEqual(item);
    expect(history).toEqual([{ id: 'r1' }]);
    for (const [sent, sdk] of [[ours.sent[0]!, sdkGet], [ours.sent[1]!, sdkQuery]] as const) {
      expect([sent.method, sent.url.host, sent.url.pathname]).toEqual(['POST', sdk.hostname, sdk.path]);
      expect(sent.headers['x-amz-target']).toBe(sdk.headers['x-amz-target']);
      expect(sent.headers['content-type']).toBe(sdk.headers['content-type']);
      expect(JSON.parse(String(sent.body))).toEqual(JSON.parse(Buffer.from(sdk.body as Uint8Array).toString('utf8')));
      expect(sent.headers.authorization).toContain(`Signature=${documentedSignature(sent, 'dynamodb', CREDENTIALS.secretAccessKey)}`);
    }
  });

  it('reads region, credentials and endpoint overrides as the SDK does; FIPS and China hosts', () => {
    // Act
    const env = awsHttpConfig({ AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'A', AWS_SECRET_ACCESS_KEY: 'S', AWS_SESSION_TOKEN: 'T', AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9000/', AWS_ENDPOINT_URL: 'http://127.0.0.1:8000' });
    // Assess
    expect(env).toEqual({ region: 'eu-west-1', credentials: { accessKeyId: 'A', secretAccessKey: 'S', sessionToken: 'T' }, endpoints: { s3: 'http://127.0.0.1:9000', dynamodb: 'http://127.0.0.1:8000' }, useFips: false });
    expect(() => awsHttpConfig({ AWS_REGION: 'eu-west-1' })).toThrow('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set');
    expect(() => awsHttpConfig({ AWS_ACCESS_KEY_ID: 'A', AWS_SECRET_ACCESS_KEY: 'S' })).toThrow('AWS_REGION is not set');
    expect(new AwsHttp('dynamodb', config({ region: 'us-gov-west-1', useFips: true })).host).toBe('dynamodb-fips.us-gov-west-1.amazonaws.com');
    expect(new AwsHttp('s3', config({ region: 'cn-north-1' })).host).toBe('s3.cn-north-1.amazonaws.com.cn');
  });
});

describe('retries, timeouts and errors (a local HTTP server)', () => {
  let server: http.Server | undefined;
  afterEach(() => {
    server?.closeAllConnections();
    server?.close();
    server = undefined;
  });

  /** Serves the n-th request with `replies[n]` (the last one repeats): a status, headers and body, or 'reset' / 'hang'. */
  async function serve(replies: (readonly [number, Record<string, string>, string] | 'reset' | 'hang')[]): Promise<{ url: string; requests: () => number }> {
    let n = 0;
    server = http.createServer((req, res) => {
      const reply = replies[Math.min(n++, replies.length - 1)]!;
      req.resume();
      if (reply === 'reset') return void req.socket.destroy();
      if (reply === 'hang') return;
      res.writeHead(reply[0], reply[1]).end(reply[2]);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => n };
  }
  const fast = { backoffBaseMs: 1 };
  const json = (body: unknown): string => JSON.stringify(body);

  it('retries 5xx and throttling, then succeeds', async () => {
    // Prepare
    const item = json({ Item: { pk: { S: 'x' } } });
    const srv = await serve([[503, {}, ''], [400, {}, json({ __type: 'com.amazonaws.dynamodb.v20120810#ThrottlingException', message: 'slow down' })], [200, { 'x-amz-crc32': String(crc32(item)) }, item]]);
    const ddb = new DynamoDbHttp(new AwsHttp('dynamodb', config({ endpoints: { dynamodb: srv.url } }), fast));
    // Act
    const got = await ddb.getItem('t', { pk: 'x' });
    // Assess
    expect(got).toEqual({ pk: 'x' });
    expect(srv.requests()).toBe(3);
  });

  it('does not retry a client error, and names it by its type', async () => {
    const srv = await serve([[400, {}, json({ __type: 'com.amazonaws.dynamodb.v20120810#ResourceNotFoundException', message: 'Requested resource not found' })]]);
    const ddb = new DynamoDbHttp(new AwsHttp('dynamodb', config({ endpoints: { dynamodb: srv.url } }), fast));
    const err = await ddb.getItem('missing', { pk: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AwsHttpError);
    expect(err).toMatchObject({ name: 'ResourceNotFoundException', statusCode: 400, message: 'DynamoDB GetItem: ResourceNotFoundException (HTTP 400): Requested resource not found' });
    expect(srv.requests()).toBe(1);
  });

  it('gives up after maxAttempts on resets and on timeouts, naming the cause', async () => {
    // Prepare
    const resets = await serve(['reset']);
    const s3 = new S3Http(new AwsHttp('s3', config({ endpoints: { s3: resets.url } }), fast));
    // Act
    const reset = await s3.getBytes('b', 'k').catch((e: unknown) => e);
    // Assess
    expect(reset).toMatchObject({ name: 'ECONNRESET', statusCode: 0 });
    expect((reset as Error).message).toMatch(/after 3 attempts/);
    expect(resets.requests()).toBe(3);
    server?.closeAllConnections();
    server?.close();
    const hangs = await serve(['hang']);
    const slow = new S3Http(new AwsHttp('s3', config({ endpoints: { s3: hangs.url } }), { ...fast, maxAttempts: 2, attemptTimeoutMs: 50 }));
    const timeout = await slow.getBytes('b', 'k').catch((e: unknown) => e);
    expect(timeout).toMatchObject({ name: 'TimeoutError' });
    expect((timeout as Error).message).toMatch(/no network activity for 50 ms .*after 2 attempts/);
    expect(hangs.requests()).toBe(2);
  });

  it('computes the CRC-32 DynamoDB sends as zlib does (known value, random bodies)', () => {
    expect(jsCrc32(Buffer.from('123456789'))).toBe(0xcbf43926); // the CRC-32 check value
    expect(jsCrc32(new Uint8Array(0))).toBe(0);
    for (let n = 0; n < 50; n++) {
      const bytes = Buffer.from(Array.from({ length: n * 37 }, (_, i) => (i * 131 + n * 7) & 0xff));
      expect(jsCrc32(bytes)).toBe(crc32(bytes));
    }
  });

  it('retries a DynamoDB body that does not match its CRC32, then refuses it', async () => {
    const body = json({ Item: { pk: { S: 'x' } } });
    const srv = await serve([[200, { 'x-amz-crc32': String((crc32(body) + 1) >>> 0) }, body]]);
    const ddb = new DynamoDbHttp(new AwsHttp('dynamodb', config({ endpoints: { dynamodb: srv.url } }), fast));
    await expect(ddb.getItem('t', { pk: 'x' })).rejects.toMatchObject({ name: 'CRC32CheckFailed' });
    expect(srv.requests()).toBe(3);
  });

  it('reads S3 errors: NoSuchKey is no text, a taken key is not written, others are named', async () => {
    // Prepare
    const xml = (code: string, message: string) => `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;
    const srv = await serve([[404, {}, xml('NoSuchKey', 'The specified key does not exist.')], [412, {}, xml('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold')], [403, {}, xml('AccessDenied', 'Access Denied')]]);
    const s3 = new S3Http(new AwsHttp('s3', config({ endpoints: { s3: srv.url } }), fast));
    // Act, Assess
    expect(await s3.getText('b', 'contracts/none.yaml')).toBeUndefined();
    expect(await s3.putIfAbsent('b', 'k', 'x', 'text/plain')).toBe(false);
    await expect(s3.getBytes('b', 'models/m.onnx')).rejects.toMatchObject({ name: 'AccessDenied', statusCode: 403, message: 'GetObject s3://b/models/m.onnx: AccessDenied (HTTP 403): Access Denied' });
  });
});

// SigV4-X509 as aws/rolesanywhere-credential-helper builds it (aws_signing_helper/signer.go):
// the canonical request and string to sign pinned byte for byte, the signature checked with the
// certificate's public key, and the Roles Anywhere emulator shown to refuse anything altered.
// (Neither AWS's docs nor the helper's tests publish a fixed signature vector to compare with, so
// the canonical form is pinned literally and each signature is verified with the public key.)
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, generateKeyPairSync, verify, X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { X509Proof } from '../../src/model/proof.ts';
import { canonicalRequest, signCreateSession, stringToSign } from '../../src/sts/sigv4-x509.ts';
import { RolesAnywhereEmulator } from '../harness/roles-anywhere-emulator.ts';
import { StsEmulator } from '../harness/sts-emulator.ts';
import { TestCa } from '../harness/test-ca.ts';

const URL_ = new URL(
  'https://rolesanywhere.us-east-1.amazonaws.com/sessions?trustAnchorArn=arn%3Aaws%3Arolesanywhere%3Aus-east-1%3A123456789012%3Atrust-anchor%2Fta&roleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fapp&profileArn=arn%3Aaws%3Arolesanywhere%3Aus-east-1%3A123456789012%3Aprofile%2Fp',
);
const BODY = '{"durationSeconds":3600}';
const DATE = '20250102T030405Z';

describe('SigV4-X509 canonical request and string to sign', () => {
  const headers = {
    'content-type': 'application/json',
    host: 'rolesanywhere.us-east-1.amazonaws.com',
    'x-amz-date': DATE,
    'x-amz-x509': 'Q0VSVA==',
    'x-amz-x509-chain': 'SU5U,Uk9PVA==',
  };
  const signed = Object.keys(headers).sort();

  it('is SigV4’s canonical form: POST, /sessions, sorted RFC 3986 query, headers, payload hash', () => {
    const expected = [
      'POST',
      '/sessions',
      'profileArn=arn%3Aaws%3Arolesanywhere%3Aus-east-1%3A123456789012%3Aprofile%2Fp&roleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fapp&trustAnchorArn=arn%3Aaws%3Arolesanywhere%3Aus-east-1%3A123456789012%3Atrust-anchor%2Fta',
      'content-type:application/json',
      'host:rolesanywhere.us-east-1.amazonaws.com',
      `x-amz-date:${DATE}`,
      'x-amz-x509:Q0VSVA==',
      'x-amz-x509-chain:SU5U,Uk9PVA==',
      '',
      'content-type;host;x-amz-date;x-amz-x509;x-amz-x509-chain',
      createHash('sha256').update(BODY).digest('hex'),
    ].join('\n');
    assert.equal(canonicalRequest(URL_, headers, signed, BODY), expected);
  });

  it('string to sign: algorithm, date, scope, hash of the canonical request', () => {
    const canonical = canonicalRequest(URL_, headers, signed, BODY);
    assert.equal(
      stringToSign('AWS4-X509-RSA-SHA256', DATE, '20250102/us-east-1/rolesanywhere/aws4_request', canonical),
      `AWS4-X509-RSA-SHA256\n${DATE}\n20250102/us-east-1/rolesanywhere/aws4_request\n${createHash('sha256').update(canonical).digest('hex')}`,
    );
  });
});

describe('signCreateSession', () => {
  let ec: { proof: X509Proof; cert: X509Certificate };
  let rsa: { proof: X509Proof; cert: X509Certificate };

  before(async () => {
    const ca = await TestCa.root('Signing Test CA', 'ec');
    const proofOf = async (kind: 'rsa' | 'ec') => {
      const leaf = await ca.issue(`${kind}.example`, { kind, serialNumber: '0a1b2c3d4e5f' });
      const cert = new X509Certificate(leaf.certPem);
      const proof: X509Proof = {
        kind: 'x509',
        certificate: cert.raw,
        chain: [new X509Certificate(ca.certPem).raw],
        privateKey: createPrivateKey(leaf.keyPem),
        algorithm: kind === 'rsa' ? 'AWS4-X509-RSA-SHA256' : 'AWS4-X509-ECDSA-SHA256',
        serialNumber: BigInt('0x0a1b2c3d4e5f').toString(10),
        subject: `${kind}.example`,
        notAfter: new Date(cert.validTo),
        rolesAnywhere: {
          trustAnchorArn: 'arn:aws:rolesanywhere:us-east-1:123456789012:trust-anchor/ta',
          profileArn: 'arn:aws:rolesanywhere:us-east-1:123456789012:profile/p',
          region: undefined,
          endpoint: undefined,
          useFipsEndpoint: false,
          sendSessionName: false,
          timeout: 5000,
        },
      };
      return { proof, cert };
    };
    ec = await proofOf('ec');
    rsa = await proofOf('rsa');
  });

  for (const kind of ['ec', 'rsa'] as const) {
    it(`${kind}: Authorization names the algorithm, the decimal serial and the signed headers; the signature verifies with the certificate`, () => {
      const { proof, cert } = kind === 'ec' ? ec : rsa;
      const headers = signCreateSession({ url: URL_, body: BODY, amzDate: DATE, region: 'us-east-1', proof });
      const m =
        /^(AWS4-X509-(?:RSA|ECDSA)-SHA256) Credential=(\d+)\/20250102\/us-east-1\/rolesanywhere\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]+)$/.exec(
          headers.authorization ?? '',
        );
      assert.ok(m, headers.authorization);
      assert.equal(m[1], kind === 'ec' ? 'AWS4-X509-ECDSA-SHA256' : 'AWS4-X509-RSA-SHA256');
      assert.equal(m[2], '11111822610015'); // 0x0a1b2c3d4e5f
      assert.equal(m[3], 'content-type;host;x-amz-date;x-amz-x509;x-amz-x509-chain');
      assert.equal(headers['x-amz-x509'], cert.raw.toString('base64'));
      const toSign = stringToSign(
        m[1]!,
        DATE,
        '20250102/us-east-1/rolesanywhere/aws4_request',
        canonicalRequest(URL_, headers, m[3]!.split(';'), BODY),
      );
      assert.ok(verify('sha256', Buffer.from(toSign), cert.publicKey, Buffer.from(m[4]!, 'hex')));
      assert.equal(
        verify('sha256', Buffer.from(`${toSign}x`), cert.publicKey, Buffer.from(m[4]!, 'hex')),
        false,
      );
    });
  }

  it('RSA signatures are deterministic (PKCS#1 v1.5): the same request signs the same way twice', () => {
    const a = signCreateSession({
      url: URL_,
      body: BODY,
      amzDate: DATE,
      region: 'us-east-1',
      proof: rsa.proof,
    });
    const b = signCreateSession({
      url: URL_,
      body: BODY,
      amzDate: DATE,
      region: 'us-east-1',
      proof: rsa.proof,
    });
    assert.equal(a.authorization, b.authorization);
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const other = signCreateSession({
      url: URL_,
      body: BODY,
      amzDate: DATE,
      region: 'us-east-1',
      proof: { ...rsa.proof, privateKey },
    });
    assert.notEqual(other.authorization, a.authorization);
  });
});

describe('the Roles Anywhere emulator checks the signature for real', () => {
  let sts: StsEmulator;
  let ra: RolesAnywhereEmulator;
  let proof: X509Proof;
  let target: URL;
  const role = 'arn:aws:iam::123456789012:role/signed';

  before(async () => {
    sts = await StsEmulator.start();
    ra = await RolesAnywhereEmulator.start({ sts });
    const ca = await TestCa.root('Emulator CA', 'ec');
    const leaf = await ca.issue('host.example', { kind: 'ec' });
    const cert = new X509Certificate(leaf.certPem);
    const anchor = ra.createTrustAnchor(ca.certPem);
    const profile = ra.createProfile({ roleArns: [role] });
    proof = {
      kind: 'x509',
      certificate: cert.raw,
      chain: [],
      privateKey: createPrivateKey(leaf.keyPem),
      algorithm: 'AWS4-X509-ECDSA-SHA256',
      serialNumber: BigInt(`0x${cert.serialNumber}`).toString(10),
      subject: 'host.example',
      notAfter: new Date(cert.validTo),
      rolesAnywhere: {
        trustAnchorArn: anchor,
        profileArn: profile,
        region: 'us-east-1',
        endpoint: ra.url,
        useFipsEndpoint: false,
        sendSessionName: false,
        timeout: 5000,
      },
    };
    target = new URL('/sessions', ra.url);
    target.searchParams.set('profileArn', profile);
    target.searchParams.set('roleArn', role);
    target.searchParams.set('trustAnchorArn', anchor);
  });
  after(async () => {
    await ra.close();
    await sts.close();
  });

  const amzNow = () => new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
  const send = (url: URL, headers: Record<string, string>, body: string) =>
    fetch(url, { method: 'POST', headers, body }).then(async (r) => ({
      status: r.status,
      body: await r.text(),
    }));

  it('a correctly signed request gets 201 and credentials', async () => {
    const headers = signCreateSession({
      url: target,
      body: BODY,
      amzDate: amzNow(),
      region: 'us-east-1',
      proof,
    });
    const res = await send(target, headers, BODY);
    assert.equal(res.status, 201, res.body);
    assert.match(res.body, /"accessKeyId":"ASIA/);
  });

  it('a changed body, a changed query or a stale date is refused', async () => {
    const headers = signCreateSession({
      url: target,
      body: BODY,
      amzDate: amzNow(),
      region: 'us-east-1',
      proof,
    });
    const tamperedBody = await send(target, headers, '{"durationSeconds":43200}');
    assert.equal(tamperedBody.status, 403);
    assert.match(tamperedBody.body, /Invalid signature/);

    const otherRole = new URL(target);
    otherRole.searchParams.set('roleArn', 'arn:aws:iam::123456789012:role/other');
    assert.equal((await send(otherRole, headers, BODY)).status, 403);

    const stale = new Date(Date.now() - 10 * 60_000).toISOString().replace(/[-:]|\.\d{3}/g, '');
    const old = signCreateSession({ url: target, body: BODY, amzDate: stale, region: 'us-east-1', proof });
    const res = await send(target, old, BODY);
    assert.equal(res.status, 403);
    assert.match(res.body, /not within 5 minutes/);
  });

  it('an expired certificate is refused even when correctly signed', async () => {
    const ca = await TestCa.root('Expiry CA', 'ec');
    const old = await ca.issue('old.example', {
      notBefore: new Date(Date.now() - 10 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    });
    const cert = new X509Certificate(old.certPem);
    const url = new URL(target);
    url.searchParams.set('trustAnchorArn', ra.createTrustAnchor(ca.certPem));
    const headers = signCreateSession({
      url,
      body: BODY,
      amzDate: amzNow(),
      region: 'us-east-1',
      proof: {
        ...proof,
        certificate: cert.raw,
        privateKey: createPrivateKey(old.keyPem),
        serialNumber: BigInt(`0x${cert.serialNumber}`).toString(10),
      },
    });
    const res = await send(url, headers, BODY);
    assert.equal(res.status, 403);
    assert.match(res.body, /expired or not yet valid/);
  });

  it('a signature by another key, or a Credential serial that is not the certificate’s, is refused', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const forged = signCreateSession({
      url: target,
      body: BODY,
      amzDate: amzNow(),
      region: 'us-east-1',
      proof: { ...proof, privateKey },
    });
    assert.match((await send(target, forged, BODY)).body, /Invalid signature/);

    const wrongSerial = signCreateSession({
      url: target,
      body: BODY,
      amzDate: amzNow(),
      region: 'us-east-1',
      proof: { ...proof, serialNumber: '12345' },
    });
    assert.match((await send(target, wrongSerial, BODY)).body, /serial number/);
  });
});

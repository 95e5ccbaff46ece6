// The credentials JSON both reference servers answer with: the broker's shape and about its size.
export const BASELINE_BODY = JSON.stringify({
  AccessKeyId: 'ASIABASELINEBASELINE',
  SecretAccessKey: 'x'.repeat(40),
  Token: 'y'.repeat(600),
  Expiration: new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, 'Z'),
  AccountId: '123456789012',
  RoleArn: 'arn:aws:iam::123456789012:role/app',
});

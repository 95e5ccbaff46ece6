// Temporary AWS credentials as every part sees them, and their one wire form of expiry.
/** Temporary AWS credentials as the broker keeps them. `secretAccessKey`/`sessionToken` are secrets: never log them. */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
  accountId: string | undefined;
  /** The IAM role that was assumed (as configured). */
  roleArn: string;
  /** The STS session ARN (arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION), as STS reported it. */
  assumedRoleArn: string | undefined;
  /** STS's clock minus ours when issued (from the Date header), 0 when unknown. */
  clockSkewMs?: number;
}

/** `YYYY-MM-DDTHH:MM:SSZ`: UTC, `Z`, no fraction. The JS SDK rejects offsets; botocore's IMDS path rejects fractions. */
export function formatExpiration(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

// The "legacy app" of the demo: an unmodified AWS SDK for JavaScript v3 program. It knows nothing
// about the broker: the default credential chain finds it through AWS_CONTAINER_CREDENTIALS_FULL_URI
// and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, as it would in ECS or EKS.
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';

const sts = new STSClient({}); // region and endpoint come from AWS_REGION / AWS_ENDPOINT_URL_STS
const who = await sts.send(new GetCallerIdentityCommand({}));
const creds = await sts.config.credentials();
console.log(`caller ARN:  ${who.Arn}`);
console.log(`account:     ${who.Account}`);
console.log(`access key:  ${creds.accessKeyId.slice(0, 8)}… (temporary, from the broker)`);
console.log(`expires:     ${creds.expiration?.toISOString()}`);

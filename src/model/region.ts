// What an AWS region name looks like (us-east-1, us-gov-west-1). One pattern for the config schema
// and for `advise`, whose starter config.yaml the schema must then accept.
export const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d$/;

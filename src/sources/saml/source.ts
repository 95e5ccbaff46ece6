// `saml` source: logs in to a SAML IdP without a human (ECP, form, HTTP Basic or Kerberos), checks
// the SAML Response it gets, and hands it to src/sts/ for AssumeRoleWithSAML. Each login is fresh
// (an assertion is single-use and short-lived); secrets are re-read on every login.

import type { SamlSourceConfig } from '../../config/schema/index.ts';
import type { SamlProof } from '../../model/proof.ts';
import { fetchFor, type ResolvedNetwork } from '../../outbound.ts';
import { describeSource } from '../describe.ts';
import type { Source } from '../types.ts';
import { parseSamlResponse } from './assertion.ts';
import type { LoginContext, SamlLogin } from './login.ts';
import { BasicLogin } from './login-basic.ts';
import { EcpLogin } from './login-ecp.ts';
import { FormLogin } from './login-form.ts';
import { KerberosLogin } from './login-kerberos.ts';

export class SamlSource implements Source {
  readonly type = 'saml';
  readonly describe: string;
  private readonly method: SamlLogin;

  constructor(
    private readonly profile: string,
    private readonly cfg: SamlSourceConfig,
    network: ResolvedNetwork,
  ) {
    const idpUrl = new URL(cfg.idpUrl);
    this.describe = describeSource(cfg);
    this.method = createLogin({ profile, cfg, idpUrl, fetch: fetchFor(network) });
  }

  async getProof(): Promise<SamlProof> {
    const assertion = (await this.method.login()).replace(/\s+/g, '');
    const parsed = await parseSamlResponse(assertion, {
      profile: this.profile,
      idp: this.describe,
      maxBytes: this.cfg.maxResponseBytes,
    });
    return {
      kind: 'saml',
      assertion,
      roles: parsed.roles,
      sessionDuration: parsed.sessionDuration,
      notOnOrAfter: parsed.notOnOrAfter,
      principalArn: this.cfg.principalArn,
      idp: this.describe,
    };
  }
}

function createLogin(ctx: LoginContext): SamlLogin {
  const auth = ctx.cfg.auth;
  switch (auth.method) {
    case 'ecp':
      return new EcpLogin(ctx, auth);
    case 'form':
      return new FormLogin(ctx, auth);
    case 'basic':
      return new BasicLogin(ctx, auth);
    case 'kerberos':
      return new KerberosLogin(ctx, auth);
  }
}

// The OpenID Provider the test suite starts on 127.0.0.1: node's certified oidc-provider with
// a minimal sign-in form, back-channel logout and RP-initiated logout.
//
//   node provider.mjs PORT    (clients as JSON in IDLEGUARD_OP_CLIENTS)
//
// Any login name signs in (the password is not checked: this is a test provider); the form
// records the acr the client asked for. POST /__clock?offset=SECONDS moves this provider's
// clock with the app's, so auth_time and iat follow the time a test sets.
import http from 'node:http';
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const issuer = `http://127.0.0.1:${port}`;
const clients = JSON.parse(process.env.IDLEGUARD_OP_CLIENTS || '[]');

let offset = 0;
const realNow = Date.now.bind(Date);
Date.now = () => realNow() + offset * 1000;

const page = (title, body) => `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;

const provider = new Provider(issuer, {
  clients,
  acrValues: ['urn:idleguard:password', 'urn:idleguard:mfa'],
  claims: { openid: ['sub'] },
  cookies: { keys: ['idleguard-test-provider-only-cookie-key'] },
  features: {
    devInteractions: { enabled: false },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource(ctx, form) {
        // Confirmed at once (a browser runs the script; a test client posts the form).
        ctx.body = page('Sign out', `${form}<button form="op.logoutForm" name="logout" value="yes" id="confirm">Sign out</button><script>var f=document.getElementById('op.logoutForm');var i=document.createElement('input');i.type='hidden';i.name='logout';i.value='yes';f.appendChild(i);f.submit();</script>`);
      },
    },
  },
  async findAccount(ctx, sub) {
    return { accountId: sub, async claims() { return { sub }; } };
  },
  async loadExistingGrant(ctx) {
    // First-party client: the grant is given without a consent screen.
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid');
    await grant.save();
    return grant;
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  pkce: { required: () => false },
  // The apps under test listen on 127.0.0.1, which the provider's SSRF guard refuses by
  // default: this provider talks to loopback only, so the guard's dispatcher is left out.
  fetch(url, options) {
    const { dispatcher, ...rest } = options;
    return globalThis.fetch(url, rest);
  },
});
provider.on('server_error', (ctx, error) => console.error('server_error', error));
provider.on('backchannel.error', (ctx, error, client) => console.error('backchannel.error', client.clientId, error.message, error.cause));
provider.on('backchannel.success', (ctx, client) => console.log('backchannel.success', client.clientId));

const callback = provider.callback();

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, issuer);
    if (req.method === 'POST' && url.pathname === '/__clock') {
      offset = Number(url.searchParams.get('offset') || '0');
      res.end(String(offset));
      return;
    }
    const match = url.pathname.match(/^\/interaction\/([^/]+)(\/login)?$/);
    if (match) {
      const details = await provider.interactionDetails(req, res);
      if (req.method === 'GET') {
        res.setHeader('content-type', 'text/html; charset=utf-8');
        res.end(page('Sign in', `<h1>Sign in</h1><form method="post" action="/interaction/${details.uid}/login"><input name="login" id="login" autofocus><input name="password" id="password" type="password"><button id="submit">Sign in</button></form>`));
        return;
      }
      const form = await readForm(req);
      const asked = String(details.params.acr_values || '').split(' ').filter(Boolean);
      const acr = asked.includes('urn:idleguard:mfa') ? 'urn:idleguard:mfa' : 'urn:idleguard:password';
      await provider.interactionFinished(req, res, { login: { accountId: form.get('login') || 'alice', acr, amr: ['pwd'] } }, { mergeWithLastSubmission: false });
      return;
    }
    callback(req, res);
  } catch (error) {
    console.error(error);
    res.statusCode = 500;
    res.end(String(error));
  }
}).listen(port, '127.0.0.1', () => console.log(`ready ${issuer}`));

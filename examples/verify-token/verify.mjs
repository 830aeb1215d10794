// Verify usergraph access tokens in your own backend, offline: the public
// keys come from usergraph's /.well-known/jwks.json (found through
// /.well-known/openid-configuration) and are cached; no call to usergraph
// per request. A token whose kid the cached set lacks (after a rotation)
// makes jose fetch the set again, at most once per `cooldownDuration`.
//
//   node verify.mjs http://127.0.0.1:8000 <token> [<token>...]
//
// prints each token's claims, or why it was rejected (exit status 1 if any was).
// What this cannot see: a logout or a revoked session. An access token stays
// valid here until it expires, so keep usergraph's ACCESS_TOKEN_TTL short.

import { createRemoteJWKSet, jwtVerify } from "jose";

/**
 * A function `verify(token) -> claims` for the usergraph at `baseUrl`.
 * Reads the discovery document once; the key set is fetched lazily.
 */
export async function createVerifier(baseUrl, { audience = "usergraph", cooldownDuration = 30_000 } = {}) {
  const response = await fetch(new URL("/.well-known/openid-configuration", baseUrl));
  if (!response.ok) {
    throw new Error(`discovery: HTTP ${response.status}`);
  }
  const discovery = await response.json();
  const keys = createRemoteJWKSet(new URL(discovery.jwks_uri), { cooldownDuration });
  const algorithms = discovery.id_token_signing_alg_values_supported;
  return async function verify(token) {
    const { payload, protectedHeader } = await jwtVerify(token, keys, {
      issuer: discovery.issuer,
      audience,
      // Only the asymmetric algorithms usergraph publishes keys for: never
      // HS256, whose "secret" would be a public key.
      algorithms: algorithms.filter((name) => name === "EdDSA" || name === "ES256"),
    });
    if (payload.typ !== "access") {
      throw new Error(`a ${payload.typ} token is not an access token`);
    }
    return { claims: payload, kid: protectedHeader.kid };
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [baseUrl, ...tokens] = process.argv.slice(2);
  if (!baseUrl || tokens.length === 0) {
    console.error("usage: node verify.mjs <usergraph base URL> <token> [<token>...]");
    process.exit(2);
  }
  const verify = await createVerifier(baseUrl);
  let rejected = 0;
  for (const token of tokens) {
    try {
      const { claims, kid } = await verify(token);
      console.log(JSON.stringify({ valid: true, kid, sub: claims.sub, exp: claims.exp }));
    } catch (error) {
      rejected += 1;
      console.log(JSON.stringify({ valid: false, reason: error.code ?? error.message }));
    }
  }
  process.exit(rejected === 0 ? 0 : 1);
}

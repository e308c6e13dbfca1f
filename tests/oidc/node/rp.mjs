// A relying party nobody here wrote: panva's openid-client (v6), used the way its README
// shows, against a real `admit serve`. tests/e2e/test_openid_client.py runs it and plays the
// browser (real Chromium); this script is the app's back end.
//
//   node rp.mjs '{"issuer": ..., "client_id": ..., "redirect_uri": ...,
//                 "post_logout_redirect_uri": ..., "id_token_signed_response_alg": "RS256"}'
//   (a confidential client's secret in the environment, RP_CLIENT_SECRET: never in argv)
//
// The script listens on the redirect URI's address (the post-logout URI must be on the same
// one) and talks to the test through stdout, one JSON object a line:
//   {"step": "authorize", "url": ...}    the browser goes there; the script waits for the
//                                        callback, then shows "Signed in as <username>"
//   {"step": "end_session", "url": ...}  the browser goes there; the script waits for the
//                                        post-logout redirect, then shows "Signed out"
//   {"step": "result", ...}              what it saw, then it exits 0
//   {"step": "error", ...}               what went wrong, then it exits 1
//
// Every check of the protocol is openid-client's: discovery, PKCE S256, state, nonce, the ID
// token's signature (from the JWKS), iss, aud, exp, the UserInfo subject, the responses'
// shapes. This script only records what came back.

import http from "node:http";
import * as client from "openid-client";

const options = JSON.parse(process.argv[2]);
const secret = process.env.RP_CLIENT_SECRET || "";
const redirectUri = new URL(options.redirect_uri);
const postLogoutUri = new URL(options.post_logout_redirect_uri);

function say(message) {
  process.stdout.write(JSON.stringify(message) + "\n");
}

// Requests the listener waits for, by path: each resolves with [URL, response] once.
const waiting = new Map();

function nextRequest(path) {
  return new Promise((resolve) => waiting.set(path, resolve));
}

const server = http.createServer((request, response) => {
  const url = new URL(request.url, redirectUri.origin);
  const resolve = waiting.get(url.pathname);
  if (!resolve) {
    response.writeHead(404, { "content-type": "text/plain" });
    response.end("not expected here");
    return;
  }
  waiting.delete(url.pathname);
  resolve([url, response]);
});

function page(response, heading) {
  const text = heading.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  response.end(`<!doctype html><html lang="en"><title>RP</title><h1>${text}</h1></html>`);
}

/** The OAuth error of a refused request (openid-client's ResponseBodyError), or the message. */
function refusal(error) {
  const response = error.response ?? (error.cause instanceof Response ? error.cause : undefined);
  return {
    error: error.error ?? error.code ?? "",
    status: error.status ?? response?.status ?? 0,
    www_authenticate: response?.headers.get("www-authenticate") ?? null,
    message: error.message,
  };
}

/** The `alg` of a JWS's protected header (its first part, base64url-encoded JSON). */
function signedWith(jws) {
  return JSON.parse(Buffer.from(jws.split(".")[0], "base64url").toString("utf8")).alg;
}

async function refused(promise) {
  try {
    await promise;
  } catch (error) {
    return refusal(error);
  }
  return null;
}

async function main() {
  await new Promise((resolve) => server.listen(Number(redirectUri.port), redirectUri.hostname, resolve));

  const metadata = { id_token_signed_response_alg: options.id_token_signed_response_alg || "RS256" };
  const authentication = secret ? client.ClientSecretBasic(secret) : client.None();
  // The issuer is http://127.0.0.1:<port>, a loopback address on the test machine: v6 refuses
  // plain HTTP unless told, and allowInsecureRequests is how it is told. Only for this test.
  const config = await client.discovery(
    new URL(options.issuer),
    options.client_id,
    metadata,
    authentication,
    { execute: [client.allowInsecureRequests] },
  );
  const seen = { issuer: config.serverMetadata().issuer };

  // 1. The authorization request: PKCE S256, state and nonce, all made by openid-client.
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri.href,
    scope: "openid profile email",
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    nonce,
  });
  const callback = nextRequest(redirectUri.pathname);
  say({ step: "authorize", url: authorizationUrl.href });
  const [callbackUrl, callbackResponse] = await callback;
  seen.callback_iss = callbackUrl.searchParams.get("iss");

  // 2. The code exchange: openid-client checks state, iss, the PKCE verifier's use, the ID
  // token's signature against the JWKS, iss, aud, exp, iat and the nonce.
  let tokens;
  try {
    tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
  } catch (error) {
    page(callbackResponse, "Sign-in failed");
    throw error;
  }
  const claims = tokens.claims();
  page(callbackResponse, `Signed in as ${claims.preferred_username}`);
  // What admit signed the ID token with, as its own header says (openid-client also refuses
  // one signed otherwise than the client registered).
  seen.id_token_alg = signedWith(tokens.id_token);
  seen.claims = claims;
  seen.nonce_sent = nonce;
  seen.token_type = tokens.token_type;
  seen.expires_in = tokens.expiresIn();
  seen.scope = tokens.scope;

  // 3. UserInfo, for the subject of the ID token (openid-client compares them).
  seen.userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);

  // 4. Refresh: a new access token, a new refresh token (admit rotates them), and, for a
  // client added with --refresh-id-token, a new ID token that openid-client checks against the
  // first one's subject.
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  seen.refresh = {
    new_access_token: refreshed.access_token !== tokens.access_token,
    new_refresh_token:
      Boolean(refreshed.refresh_token) && refreshed.refresh_token !== tokens.refresh_token,
    id_token: Boolean(refreshed.id_token),
    id_token_sub: refreshed.claims()?.sub ?? null,
    id_token_alg: refreshed.id_token ? signedWith(refreshed.id_token) : null,
  };

  // 5. Introspection (a confidential client's) before and after revoking the access token;
  // the revoked token no longer opens UserInfo, for any client.
  const accessToken = refreshed.access_token;
  if (secret) {
    seen.introspection_replaced = await client.tokenIntrospection(config, tokens.access_token);
    seen.introspection_before = await client.tokenIntrospection(config, accessToken);
  }
  await client.tokenRevocation(config, accessToken);
  if (secret) {
    seen.introspection_after = await client.tokenIntrospection(config, accessToken);
  }
  seen.userinfo_after_revocation = await refused(client.fetchUserInfo(config, accessToken, claims.sub));

  // 6. RP-initiated logout: the browser goes to the end-session URL with the ID token as the
  // hint, and comes back to the post-logout URI with our state.
  const logoutState = client.randomState();
  const endSessionUrl = client.buildEndSessionUrl(config, {
    id_token_hint: refreshed.id_token ?? tokens.id_token,
    post_logout_redirect_uri: postLogoutUri.href,
    state: logoutState,
  });
  const loggedOut = nextRequest(postLogoutUri.pathname);
  say({ step: "end_session", url: endSessionUrl.href });
  const [loggedOutUrl, loggedOutResponse] = await loggedOut;
  page(loggedOutResponse, "Signed out");
  seen.logout = {
    landed_on: loggedOutUrl.origin + loggedOutUrl.pathname,
    state_matched: loggedOutUrl.searchParams.get("state") === logoutState,
  };
  // The admit session is over, and every token issued under it: the refresh token that was
  // never revoked is refused now.
  seen.refresh_after_logout = await refused(client.refreshTokenGrant(config, refreshed.refresh_token));
  say({ step: "result", ...seen });
}

main().then(
  () => {
    server.close();
    process.exit(0);
  },
  (error) => {
    say({ step: "error", name: error.name, ...refusal(error), cause: String(error.cause ?? "") });
    server.close();
    process.exit(1);
  },
);

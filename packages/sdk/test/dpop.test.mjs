// DPoP (RFC 9449) against the real binary. The proofs of the first test are
// made by the npm package jose, an implementation independent of the
// service's Go one (and of the SDK's); the second drives the SDK client's
// opt-in dpop mode, whose proofs are WebCrypto signatures by a
// non-extractable key.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair } from "jose";
import { SessionClient, memoryStorage } from "@magic-sessionmanager/sdk";
import { startService } from "./harness.mjs";

const password = "correct horse battery staple";
let svc;
before(async () => {
  // The test process is the "proxy" of the forward-auth case.
  svc = await startService({ SM_TRUSTED_PROXIES: "127.0.0.1" });
});
after(async () => {
  await svc?.close();
});

/** A client key made by jose, with its public JWK and thumbprint. */
async function newKey() {
  const { publicKey, privateKey } = await generateKeyPair("ES256");
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) };
}

/** A DPoP proof by key for method and url (and accessToken, as ath). */
async function proof(key, method, url, accessToken, { iat } = {}) {
  const claims = { htm: method, htu: url };
  if (accessToken) {
    const sum = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(accessToken));
    claims.ath = Buffer.from(sum).toString("base64url");
  }
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk: key.jwk })
    .setJti(crypto.randomUUID());
  iat ? jwt.setIssuedAt(iat) : jwt.setIssuedAt();
  return jwt.sign(key.privateKey);
}

async function call(method, path, { token, dpop, body, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = "DPoP " + token;
  if (dpop) h.DPoP = dpop;
  if (body) h["Content-Type"] = "application/json";
  const res = await fetch(svc.base + path, { method, headers: h, body: body && JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

function refused(res, what) {
  assert.equal(res.status, 401, what);
  assert.equal(res.body?.error?.details?.reason, "invalid_dpop_proof", what);
  assert.match(res.headers.get("www-authenticate") ?? "", /^DPoP error="invalid_dpop_proof"/, what);
}

describe("DPoP", () => {
  test("proofs built with jose: sign-in, API call, refresh, forward auth; replays, other keys, URLs and methods refused", async () => {
    await svc.register("nora");
    const key = await newKey();
    const login = await call("POST", "/api/auth/local", {
      dpop: await proof(key, "POST", svc.base + "/api/auth/local"),
      body: { identifier: "nora", password },
    });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    assert.equal(login.body.token_type, "DPoP");
    const jwt = login.body.jwt;
    const payload = JSON.parse(Buffer.from(jwt.split(".")[1], "base64url"));
    assert.equal(payload.cnf?.jkt, key.jkt, "the access token is bound to the key (cnf.jkt)");

    const me = svc.base + "/api/users/me";
    const good = await proof(key, "GET", me, jwt);
    assert.equal((await call("GET", "/api/users/me", { token: jwt, dpop: good })).status, 200);
    refused(await call("GET", "/api/users/me", { token: jwt, dpop: good }), "a replayed proof");
    refused(await call("GET", "/api/users/me", { token: jwt }), "no proof");
    refused(await call("GET", "/api/users/me", { token: jwt, dpop: await proof(await newKey(), "GET", me, jwt) }), "another key");
    refused(await call("GET", "/api/users/me", { token: jwt, dpop: await proof(key, "GET", svc.base + "/api/sessions/me", jwt) }), "another URL");
    refused(await call("GET", "/api/users/me", { token: jwt, dpop: await proof(key, "POST", me, jwt) }), "another method");
    refused(await call("GET", "/api/users/me", { token: jwt, dpop: await proof(key, "GET", me, jwt, { iat: Math.floor(Date.now() / 1000) - 300 }) }), "a stale proof");

    // Forward auth as Traefik asks it: the original request in X-Forwarded-*.
    const original = "https://app.example.test/orders/7";
    const forwarded = { "X-Forwarded-Method": "GET", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example.test", "X-Forwarded-Uri": "/orders/7?x=1" };
    const fa = await proof(key, "GET", original, jwt);
    const ok = await call("GET", "/api/auth/verify", { token: jwt, dpop: fa, headers: forwarded });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get("x-user-id"), login.body.user.id);
    assert.equal((await call("GET", "/api/auth/verify", { token: jwt, dpop: fa, headers: forwarded })).status, 401, "forward auth: a replay");
    const other = await proof(key, "GET", "https://app.example.test/admin", jwt);
    assert.equal((await call("GET", "/api/auth/verify", { token: jwt, dpop: other, headers: forwarded })).status, 401, "forward auth: another URL");

    // Refresh: only with a proof by the key.
    const refreshURL = svc.base + "/api/auth/refresh";
    refused(await call("POST", "/api/auth/refresh", { body: { refreshToken: login.body.refreshToken } }), "refresh without a proof");
    refused(
      await call("POST", "/api/auth/refresh", { dpop: await proof(await newKey(), "POST", refreshURL), body: { refreshToken: login.body.refreshToken } }),
      "refresh with another key",
    );
    const next = await call("POST", "/api/auth/refresh", { dpop: await proof(key, "POST", refreshURL), body: { refreshToken: login.body.refreshToken } });
    assert.equal(next.status, 200, JSON.stringify(next.body));
    assert.equal(next.body.token_type, "DPoP");
  });

  test("the SDK client's dpop mode: a non-extractable key signs every request", async () => {
    let keyPair;
    const keyStore = {
      get: async () => keyPair ?? null,
      set: async (k) => void (keyPair = k),
      remove: async () => void (keyPair = undefined),
    };
    const client = new SessionClient({ baseUrl: svc.base, storage: memoryStorage(), storageKey: "msm.dpop", dpop: { keyStore } });
    const reg = await client.register({ username: "olga", email: "olga@example.com", password });
    assert.equal(reg.token_type, "DPoP");
    assert.equal(keyPair.privateKey.extractable, false, "the private key cannot be read by script");
    const payload = JSON.parse(Buffer.from(reg.jwt.split(".")[1], "base64url"));
    assert.equal(payload.cnf?.jkt, await client.dpopThumbprint());
    assert.equal((await client.me()).username, "olga");
    const s = await client.refresh();
    assert.notEqual(s.jwt, reg.jwt);
    assert.equal((await client.me()).username, "olga");
    const res = await client.fetch(svc.base + "/api/sessions/me?all=true");
    assert.equal(res.status, 200);
    // The stolen tokens, without the key, are worth nothing.
    refused(await call("GET", "/api/users/me", { token: s.jwt }), "the token without the key");
    refused(await call("POST", "/api/auth/refresh", { body: { refreshToken: s.refreshToken } }), "the refresh token without the key");
    assert.equal((await client.me()).username, "olga", "the session survives the thief's attempts");
    await client.logout();
  });
});

describe("DPoP and the offline verifier", () => {
  test("createVerifier refuses a bound token rather than take it as a bearer token", async () => {
    const { createVerifier } = await import("@magic-sessionmanager/sdk/server");
    await svc.register("pia");
    const key = await newKey();
    const login = await call("POST", "/api/auth/local", { dpop: await proof(key, "POST", svc.base + "/api/auth/local"), body: { identifier: "pia", password } });
    assert.equal(login.status, 200);
    const verifier = createVerifier({ baseUrl: svc.base, whenFeedDown: "accept" });
    await assert.rejects(verifier.verify(login.body.jwt), (e) => e.status === 401 && e.reason === "invalid_dpop_proof");
    verifier.close?.();
  });
});

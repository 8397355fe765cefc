// The plugin's pure parts (configuration, token recognition, the user map)
// and its admin panel entry, without a Strapi server.
import assert from "node:assert/strict";
import { register } from "node:module";
import { join } from "node:path";
import { describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { createRequire } from "node:module";
import { appModules } from "./strapi.mjs";

const require = createRequire(import.meta.url);
const { defaults, validate } = require("../dist/server/config.js");
const { isServiceToken } = require("../dist/server/tokens.js");
const { UserMap } = require("../dist/server/users.js");

const good = { ...defaults({ env: (_k, d) => d }), url: "http://127.0.0.1:8080", serviceToken: "msm_" + "a".repeat(43) };

describe("config", () => {
  test("a complete configuration passes; every bad field is named at once", () => {
    validate(good);
    assert.throws(
      () => validate({ ...good, url: "ftp://x", serviceToken: "secret", whenFeedDown: "sometimes", timeoutMs: 5 }),
      (err) => ["url", "serviceToken", "whenFeedDown", "timeoutMs"].every((f) => err.message.includes(f)),
    );
    assert.throws(() => validate({ ...good, url: "http://user:pw@host" }), /url/);
    assert.throws(() => validate({ ...good, dashboardUrl: "javascript:alert(1)" }), /dashboardUrl/);
  });

  test("defaults come from MSM_* variables", () => {
    const env = { MSM_URL: "https://sessions.example", MSM_SERVICE_TOKEN: "msm_x", MSM_ISSUER: "iss" };
    const c = defaults({ env: (k, d) => env[k] ?? d });
    assert.equal(c.url, "https://sessions.example");
    assert.equal(c.issuer, "iss");
    assert.equal(c.audience, "sessionmanager");
    assert.equal(c.acceptStrapiTokens, false);
  });
});

describe("isServiceToken", () => {
  const jwt = (h, p) => `${Buffer.from(JSON.stringify(h)).toString("base64url")}.${Buffer.from(JSON.stringify(p)).toString("base64url")}.sig`;
  test("the service's tokens are recognised by EdDSA, at+jwt or the issuer; Strapi's are not", () => {
    assert.equal(isServiceToken(jwt({ alg: "EdDSA", typ: "at+jwt" }, {}), "sessionmanager"), true);
    assert.equal(isServiceToken(jwt({ alg: "HS256", typ: "JWT" }, { iss: "sessionmanager" }), "sessionmanager"), true, "a forged HS256 with our issuer goes to the strict verifier");
    assert.equal(isServiceToken(jwt({ alg: "HS256", typ: "JWT" }, { id: 1 }), "sessionmanager"), false);
    assert.equal(isServiceToken("not a jwt", "sessionmanager"), false);
    assert.equal(isServiceToken("", "sessionmanager"), false);
  });
});

describe("UserMap", () => {
  function store() {
    const rows = new Map();
    let writes = 0;
    return {
      rows,
      writes: () => writes,
      get: async ({ key }) => rows.get(key) ?? null,
      set: async ({ key, value }) => (writes++, rows.set(key, value)),
    };
  }

  test("remembers a pair once, resolves it after a restart from the store, forgets a deleted Strapi user", async () => {
    const s = store();
    const users = new Map([["doc1", 7]]);
    let now = 0;
    const map = new UserMap(s, async (doc) => users.get(doc) ?? null, () => now);
    await map.remember("u1", "doc1");
    await map.remember("u1", "doc1");
    assert.equal(s.writes(), 1, "a known pair is not written again");
    assert.equal(await map.strapiId("u1"), 7);

    const restarted = new UserMap(s, async (doc) => users.get(doc) ?? null, () => now);
    assert.equal(await restarted.strapiId("u1"), 7, "read back from the store");
    assert.equal(await restarted.strapiId("nobody"), null);

    users.delete("doc1");
    assert.equal(await restarted.strapiId("u1"), 7, "the id is trusted for a minute");
    now += 61_000;
    assert.equal(await restarted.strapiId("u1"), null, "then looked up again: the user is gone");
  });
});

describe("UserMap challenges", () => {
  test("a pending challenge names its Strapi user once, until it expires", () => {
    let now = Date.parse("2026-12-01T00:00:00Z");
    const map = new UserMap({ get: async () => null, set: async () => {} }, async () => null, () => now);
    map.rememberChallenge("c1", "doc1", "2026-12-01T00:10:00Z");
    map.rememberChallenge("c2", "doc2", "2026-12-01T00:10:00Z");
    assert.equal(map.challengeUser("c1"), "doc1");
    assert.equal(map.challengeUser("c1"), null, "spent");
    now += 11 * 60_000;
    assert.equal(map.challengeUser("c2"), null, "expired");
    map.rememberChallenge("c3", "doc3", "2027-01-01T00:00:00Z");
    now += 16 * 60_000;
    assert.equal(map.challengeUser("c3"), null, "kept at most 15 minutes whatever the answer says");
  });
});

describe("UserMap under concurrency", () => {
  test("concurrent sign-ins of one user write its row once", async () => {
    const rows = new Map();
    let writes = 0;
    const slow = () => new Promise((ok) => setTimeout(ok, 5));
    const s = {
      get: async ({ key }) => (await slow(), rows.get(key) ?? null),
      set: async ({ key, value }) => (await slow(), writes++, rows.set(key, value)),
    };
    const map = new UserMap(s, async () => 1);
    await Promise.all(Array.from({ length: 20 }, () => map.remember("u1", "doc1")));
    assert.equal(writes, 1);
    assert.equal(await map.strapiId("u1"), 1);
  });
});

describe("admin panel entry", () => {
  test("registers a menu link, a settings link and the plugin with Strapi's admin API", async () => {
    register(pathToFileURL(join(import.meta.dirname, "app-resolve.mjs")), import.meta.url, {
      data: { appModulesURL: pathToFileURL(appModules() + "/").href },
    });
    const { default: admin } = await import("../dist/admin/index.mjs");
    const calls = [];
    admin.register({
      addMenuLink: (l) => calls.push(["menu", l]),
      addSettingsLink: (section, l) => calls.push(["settings", section, l]),
      registerPlugin: (p) => calls.push(["plugin", p]),
    });
    const [menu, settings, plugin] = calls;
    assert.equal(menu[0], "menu");
    assert.equal(menu[1].to, "plugins/magic-sessionmanager");
    assert.ok(menu[1].icon, "an icon from @strapi/icons");
    assert.equal(typeof menu[1].Component, "function");
    assert.deepEqual(menu[1].permissions, []);
    assert.deepEqual([settings[0], settings[1], settings[2].id], ["settings", "global", "magic-sessionmanager"]);
    assert.deepEqual(plugin, ["plugin", { id: "magic-sessionmanager", name: "Magic Session Manager" }]);
    assert.deepEqual(await admin.registerTrads({ locales: ["en", "fr"] }), [{ data: {}, locale: "en" }, { data: {}, locale: "fr" }]);
  });
});

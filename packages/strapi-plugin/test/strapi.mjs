// Starts the Strapi 5 test app (test/app) with this plugin, on a copy of
// the app in a temp dir whose node_modules is the cached install
// (~/.cache/sessionmanager/strapi-<hash of test/app/package-lock.json>,
// made by ci-test.sh; STRAPI_APP_MODULES names it).
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort, requestJSON, waitUntilUp } from "../../sdk/test/harness.mjs";

const pluginDir = resolve(import.meta.dirname, "..");
const template = join(pluginDir, "test/app");

/** The cached node_modules of the test app. */
export function appModules() {
  if (process.env.STRAPI_APP_MODULES) return process.env.STRAPI_APP_MODULES;
  const hash = createHash("sha256").update(readFileSync(join(template, "package-lock.json"))).digest("hex").slice(0, 16);
  const dir = join(process.env.SM_CACHE_DIR ?? join(homedir(), ".cache/sessionmanager"), `strapi-${hash}`, "node_modules");
  if (!existsSync(dir)) throw new Error(`the Strapi test app is not installed at ${dir}: run packages/strapi-plugin/ci-test.sh`);
  return dir;
}

/**
 * Starts Strapi with the plugin configured for the service svc. env adds
 * variables. Returns {base, jwtSecret, call, stop, logs}.
 */
export async function startStrapi(svc, serviceToken, env = {}) {
  const dir = mkdtempSync(join(tmpdir(), "msm-strapi-"));
  cpSync(template, dir, { recursive: true });
  symlinkSync(appModules(), join(dir, "node_modules"), "dir");
  const port = await freePort();
  const secret = () => randomBytes(16).toString("base64");
  const jwtSecret = secret();
  const fullEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: "production",
    STRAPI_TELEMETRY_DISABLED: "true",
    STRAPI_DISABLE_UPDATE_NOTIFICATION: "true",
    HOST: "127.0.0.1",
    PORT: String(port),
    APP_KEYS: `${secret()},${secret()}`,
    ADMIN_JWT_SECRET: secret(),
    API_TOKEN_SALT: secret(),
    TRANSFER_TOKEN_SALT: secret(),
    ENCRYPTION_KEY: secret(),
    JWT_SECRET: jwtSecret,
    MSM_PLUGIN_DIR: pluginDir,
    MSM_URL: svc.base,
    MSM_SERVICE_TOKEN: serviceToken,
    ...env,
  };
  let logs = "";
  const child = spawn(process.execPath, ["start.js"], { cwd: dir, env: fullEnv, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.on("data", (d) => (logs += d));
  child.stderr.on("data", (d) => (logs += d));
  const exited = new Promise((ok) => child.once("exit", ok));
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitUntilUp(base + "/_health", 204, { child, what: "Strapi", timeoutMs: 120_000, output: () => logs });
  } catch (err) {
    if (child.exitCode === null) child.kill("SIGKILL");
    await exited;
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    base,
    jwtSecret,
    logs: () => logs,
    /** Calls Strapi; returns {status, headers, body}. */
    call(method, path, opts) {
      return requestJSON(base, method, path, opts);
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The payload of a JWT (not verified: the test reads what it was given). */
export function jwtPayload(jwt) {
  return JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8"));
}

/** The header of a JWT. */
export function jwtHeader(jwt) {
  return JSON.parse(Buffer.from(jwt.split(".")[0], "base64url").toString("utf8"));
}

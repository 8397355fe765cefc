// The same from a CommonJS consumer (require through the exports map).
import sdk = require("@magic-sessionmanager/sdk");
import server = require("@magic-sessionmanager/sdk/server");
import ex = require("@magic-sessionmanager/sdk/express");

const c = new sdk.SessionClient({ storage: sdk.memoryStorage() });
void c.refresh();
const v = new server.SessionVerifier({ baseUrl: "http://127.0.0.1:8080" });
export const mw = ex.requireSession(v, { optional: true });

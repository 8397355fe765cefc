// @magic-sessionmanager/sdk: the client for browsers and Node. The server
// side (token verification, revocation feed) is "@magic-sessionmanager/sdk/server";
// Express middleware is "@magic-sessionmanager/sdk/express".
export * from "./client.js";
export * from "./dpop.js";
export * from "./errors.js";
export * from "./storage.js";

'use strict';

module.exports = ({ env }) => ({
  host: env('HOST', '127.0.0.1'),
  port: env.int('PORT', 1337),
  app: { keys: env.array('APP_KEYS') },
  // Behind a proxy, Koa believes X-Forwarded-For only with proxy.koa; the
  // test sends it directly (no proxy) to show the plugin passes on what
  // Strapi saw.
  proxy: { koa: env.bool('STRAPI_TRUST_PROXY', false) },
});

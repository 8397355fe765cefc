'use strict';

// Starts the test app without an admin build: the test runs
// `node start.js` in a copy of this folder whose node_modules is the cached
// install (~/.cache/sessionmanager/strapi-<hash of package-lock.json>).
const { createStrapi } = require('@strapi/strapi');

createStrapi({ appDir: __dirname, distDir: __dirname })
  .start()
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });

'use strict';

// Entry for Strapi versions and tools that look for ./strapi-server.js
// rather than the package's export map.
module.exports = require('./dist/server/index.js');

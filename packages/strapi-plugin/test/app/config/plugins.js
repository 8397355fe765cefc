'use strict';

module.exports = ({ env }) => ({
  'users-permissions': {
    config: {
      jwtSecret: env('JWT_SECRET'),
      // legacy-support (Strapi's default) or refresh: the plugin serves both.
      jwtManagement: env('UP_JWT_MANAGEMENT', 'legacy-support'),
      // The tests sign in more than Strapi's default 10 times a minute.
      ratelimit: { interval: 60000, max: 1000 },
    },
  },
  'magic-sessionmanager': {
    enabled: true,
    // The plugin from this repository (packages/strapi-plugin).
    resolve: env('MSM_PLUGIN_DIR'),
    config: {
      url: env('MSM_URL'),
      serviceToken: env('MSM_SERVICE_TOKEN'),
    },
  },
});

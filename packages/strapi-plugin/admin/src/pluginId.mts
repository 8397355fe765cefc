/** The plugin's id (package.json strapi.name). */
export const pluginId = 'magic-sessionmanager';

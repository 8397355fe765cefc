import { Shield } from '@strapi/icons';
import { pluginId } from './pluginId.mjs';

const name = 'Magic Session Manager';

interface AdminApp {
  addMenuLink(link: Record<string, unknown>): void;
  addSettingsLink(section: string, link: Record<string, unknown>): void;
  registerPlugin(plugin: { id: string; name: string }): void;
}

/**
 * The admin panel part: a menu link and a settings link to a page that
 * opens the service's dashboard (its URL comes from the server part's
 * GET /magic-sessionmanager/config, so it follows the plugin's config).
 */
export default {
  register(app: AdminApp) {
    app.addMenuLink({
      to: `plugins/${pluginId}`,
      icon: Shield,
      intlLabel: { id: `${pluginId}.plugin.name`, defaultMessage: 'Sessions' },
      Component: () => import('./pages/Dashboard.mjs'),
      permissions: [],
    });
    app.addSettingsLink('global', {
      id: pluginId,
      to: pluginId,
      intlLabel: { id: `${pluginId}.settings.name`, defaultMessage: name },
      Component: () => import('./pages/Dashboard.mjs'),
      permissions: [],
    });
    app.registerPlugin({ id: pluginId, name });
  },
  bootstrap() {},
  async registerTrads({ locales }: { locales: string[] }) {
    return locales.map((locale) => ({ data: {}, locale }));
  },
};

import { SessionVerifier } from '@magic-sessionmanager/sdk/server';
import { challengeController, extendAuthController, type AuthDeps, type RefreshCookie } from './auth';
import { dashboardURL, defaults, validate, type PluginConfig } from './config';
import type { Action, Ctx } from './koa';
import { SessionService } from './service';
import { extendJwtService, type JwtService } from './tokens';
import { UserMap } from './users';

/** The plugin's name in config/plugins.js and its uid prefix. */
export const pluginName = 'magic-sessionmanager';
const userUID = 'plugin::users-permissions.user';

// Strapi's instance, as far as the plugin uses it (its types are not a
// dependency of the server code).
type Strapi = any;

/** What register builds and bootstrap, destroy and the controllers use. */
interface Running {
  cfg: PluginConfig;
  verifier: SessionVerifier;
  deps: AuthDeps;
}

let running: Running | undefined;

function current(): Running {
  if (!running) throw new Error('magic-sessionmanager: used before register');
  return running;
}

function refreshCookie(strapi: Strapi): RefreshCookie {
  const s = strapi.config.get('plugin::users-permissions.sessions') ?? {};
  const c = s.cookie ?? {};
  return {
    httpOnly: s.httpOnly === true,
    name: c.name || 'strapi_up_refresh',
    secure: typeof c.secure === 'boolean' ? c.secure : process.env.NODE_ENV === 'production',
    sameSite: c.sameSite ?? 'lax',
    path: c.path ?? '/',
    domain: c.domain,
    maxAge: c.maxAge,
  };
}

/**
 * register replaces users-permissions' token check and extends its auth
 * controller before the routes are built: sign-ins become sessions of the
 * service, and only the service's live sessions authenticate.
 */
function register({ strapi }: { strapi: Strapi }): void {
  const cfg = strapi.config.get(`plugin::${pluginName}`) as PluginConfig;
  const log = strapi.log;
  const verifier = new SessionVerifier({
    baseUrl: cfg.url,
    serviceToken: cfg.serviceToken,
    issuer: cfg.issuer,
    audience: cfg.audience,
    whenFeedDown: cfg.whenFeedDown,
    logger: { warn: (msg: string, ...meta: unknown[]) => log.warn(`magic-sessionmanager: ${msg} ${meta.map(String).join(' ')}`.trim()) },
  });
  const users = new UserMap(
    {
      get: (p) => strapi.store({ type: 'plugin', name: pluginName }).get(p),
      set: (p) => strapi.store({ type: 'plugin', name: pluginName }).set(p),
    },
    async (documentId) => {
      const u = await strapi.db.query(userUID).findOne({ where: { documentId }, select: ['id'] });
      return typeof u?.id === 'number' ? u.id : null;
    },
  );
  const deps: AuthDeps = {
    cfg,
    service: new SessionService(cfg),
    users,
    cookie: refreshCookie(strapi),
    log,
    sanitizeUser: (user: unknown, ctx: Ctx) => strapi.contentAPI.sanitize.output(user, strapi.getModel(userUID), { auth: ctx.state.auth }),
    findUser: (documentId: string) => strapi.db.query(userUID).findOne({ where: { documentId } }),
  };
  strapi.get('services').extend('plugin::users-permissions.jwt', (jwt: JwtService) => extendJwtService(jwt, cfg, verifier, users));
  strapi.get('controllers').extend('plugin::users-permissions.auth', (auth: Record<string, Action>) => extendAuthController(auth, deps));
  running = { cfg, verifier, deps };
}

/** bootstrap starts following the revocation feed. */
function bootstrap(): void {
  current().verifier.start();
}

/** destroy stops the feed (Strapi's shutdown). */
async function destroy(): Promise<void> {
  const r = running;
  running = undefined;
  await r?.verifier.close();
}

const challengeActions = (): Record<string, Action> => {
  const lazy = (name: string): Action => (ctx) => challengeController(current().deps)[name](ctx);
  return { verify: lazy('verify'), send: lazy('send'), options: lazy('options') };
};

export default {
  register,
  bootstrap,
  destroy,
  config: {
    default: defaults,
    validator: validate,
  },
  controllers: {
    challenge: challengeActions,
    admin: () => ({
      /** GET /magic-sessionmanager/config (admin panel): where the dashboard is. */
      config(ctx: Ctx) {
        const { cfg, verifier } = current();
        ctx.body = { data: { dashboardUrl: dashboardURL(cfg), feedLive: verifier.live } };
      },
    }),
  },
  routes: {
    'content-api': {
      type: 'content-api',
      routes: ['verify', 'send', 'options'].map((action) => ({
        method: 'POST',
        path: `/auth/challenge/${action}`,
        handler: `challenge.${action}`,
        config: { auth: false, prefix: '', middlewares: ['plugin::users-permissions.rateLimit'] },
      })),
    },
    admin: {
      type: 'admin',
      routes: [
        {
          method: 'GET',
          path: '/config',
          handler: 'admin.config',
          config: { policies: ['admin::isAuthenticatedAdmin'] },
        },
      ],
    },
  },
};

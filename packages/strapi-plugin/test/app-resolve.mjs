// Module hooks for the admin entry's test: bare imports of the admin
// panel's libraries (react, @strapi/*) resolve from the Strapi test app's
// node_modules, as they do when the app builds its admin panel.
let parentURL;

export function initialize({ appModulesURL }) {
  parentURL = appModulesURL;
}

export async function resolve(specifier, context, next) {
  if (/^(react|react-dom|styled-components|@strapi\/)/.test(specifier)) return next(specifier, { ...context, parentURL });
  return next(specifier, context);
}

// The admin panel's libraries come from the Strapi app at build time
// (peer dependencies); the plugin declares only what it uses.
declare module 'react' {
  export function createElement(type: unknown, props?: Record<string, unknown> | null, ...children: unknown[]): unknown;
  export function useEffect(effect: () => void | (() => void), deps?: unknown[]): void;
  export function useState<T>(initial: T): [T, (v: T) => void];
  const React: { createElement: typeof createElement };
  export default React;
}
declare module '@strapi/icons' {
  export const Shield: unknown;
}
declare module '@strapi/design-system' {
  export const Box: unknown;
  export const Flex: unknown;
  export const Typography: unknown;
  export const LinkButton: unknown;
}
declare module '@strapi/strapi/admin' {
  export function useFetchClient(): { get(url: string): Promise<{ data: any }> };
  export const Layouts: { Header: unknown; Content: unknown };
  export const Page: { Main: unknown; Loading: unknown };
}

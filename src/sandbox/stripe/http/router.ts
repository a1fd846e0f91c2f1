import type { Endpoint } from '../api/endpoint.ts';

export interface RouteMatch {
  endpoint: Endpoint;
  path: Record<string, string>;
}

/** Finds the endpoint for a method and path; the first route that matches wins (so `/search` comes before `/:id`). */
export function createRouter(endpoints: Endpoint[]) {
  const routes = endpoints.map((endpoint) => {
    const names: string[] = [];
    const pattern = endpoint.path.replace(/:([a-z_]+)/g, (_, name: string) => {
      names.push(name);
      return '([^/]+)';
    });
    return { endpoint, names, regex: new RegExp(`^${pattern}/?$`) };
  });
  return {
    match(method: string, pathname: string): RouteMatch | undefined {
      for (const { endpoint, names, regex } of routes) {
        if (endpoint.method !== method) continue;
        const found = regex.exec(pathname);
        if (!found) continue;
        const values = found.slice(1).map(decoded);
        // A segment that is not valid percent-encoding names nothing: an unrecognized URL.
        if (values.includes(undefined)) return undefined;
        return { endpoint, path: Object.fromEntries(names.map((name, i) => [name, values[i]!])) };
      }
      return undefined;
    },
  };
}

export type Router = ReturnType<typeof createRouter>;

function decoded(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch (error) {
    if (error instanceof URIError) return undefined;
    throw error;
  }
}

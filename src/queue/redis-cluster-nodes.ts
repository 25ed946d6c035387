/**
 * The seed nodes of a Redis Cluster given by configuration
 * (`redisClusterNodes`): `redis://[user[:password]@]host:port` or
 * `rediss://...`, one URL per node. ioredis takes one set of credentials and
 * one TLS setting for every node of a cluster (`redisOptions`), so the URLs
 * must agree on the scheme and on the credentials of those that carry any.
 *
 * One parser serves config validation and the client the agent builds, so
 * what validation accepts is exactly what the client gets. A problem names
 * the entry (`redisClusterNodes[1]`) and never quotes the URL: it may hold a
 * password.
 */
import { GuardAgentValidationError, type FieldProblem } from '../errors.js';

export interface ClusterSeeds {
  nodes: { host: string; port: number }[];
  /** From the URLs that carry credentials (they all agree). */
  username?: string;
  password?: string;
  /** `rediss://`: every node is reached over TLS. */
  tls: boolean;
}

const DEFAULT_PORT = 6379;

interface ParsedSeed {
  host: string;
  port: number;
  tls: boolean;
  username: string;
  password: string;
}

function parseSeed(url: unknown): ParsedSeed | string {
  if (typeof url !== 'string') return 'expected a string';
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    return 'must be a URL like redis://[user[:password]@]host:port';
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') return 'must start with redis:// or rediss://';
  if (!parsed.hostname) return 'must name a host (redis://[user[:password]@]host:port)';
  // A cluster serves database 0 only (SELECT is refused), so a database in the path would be silently wrong.
  if (parsed.pathname !== '' && parsed.pathname !== '/' && parsed.pathname !== '/0') return 'must not name a database: a Redis Cluster has database 0 only';
  let username: string;
  let password: string;
  try {
    username = decodeURIComponent(parsed.username);
    password = decodeURIComponent(parsed.password);
  } catch {
    return 'has a user or password that is not valid percent-encoding';
  }
  return {
    // `new URL` keeps the brackets of an IPv6 literal; sockets want the bare address.
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: parsed.port === '' ? DEFAULT_PORT : Number(parsed.port),
    tls: parsed.protocol === 'rediss:',
    username,
    password,
  };
}

function parseAll(urls: readonly unknown[], field: string): { seeds: ClusterSeeds; problems: FieldProblem[] } {
  const problems: FieldProblem[] = [];
  const seeds: ClusterSeeds = { nodes: [], tls: false };
  let schemeOf: number | null = null;
  let credentialsOf: number | null = null;
  urls.forEach((url, i) => {
    const seed = parseSeed(url);
    if (typeof seed === 'string') {
      problems.push({ field: `${field}[${i}]`, message: seed });
      return;
    }
    if (schemeOf === null) {
      schemeOf = i;
      seeds.tls = seed.tls;
    } else if (seed.tls !== seeds.tls) {
      const scheme = (tls: boolean): string => (tls ? 'rediss://' : 'redis://');
      problems.push({ field: `${field}[${i}]`, message: `uses ${scheme(seed.tls)} but ${field}[${schemeOf}] uses ${scheme(seeds.tls)}: every seed node must use the same scheme` });
    }
    if (seed.username !== '' || seed.password !== '') {
      if (credentialsOf === null) {
        credentialsOf = i;
        if (seed.username !== '') seeds.username = seed.username;
        if (seed.password !== '') seeds.password = seed.password;
      } else if (seed.username !== (seeds.username ?? '') || seed.password !== (seeds.password ?? '')) {
        problems.push({ field: `${field}[${i}]`, message: `has other credentials than ${field}[${credentialsOf}]: the nodes of a cluster share one user and password` });
      }
    }
    seeds.nodes.push({ host: seed.host, port: seed.port });
  });
  return { seeds, problems };
}

/** What is wrong with a list of seed node URLs, each problem naming its entry (`field[i]`). Empty when valid. */
export function clusterNodeProblems(urls: readonly unknown[], field = 'redisClusterNodes'): FieldProblem[] {
  return parseAll(urls, field).problems;
}

/** @throws GuardAgentValidationError naming each bad entry (`field[i]`), never quoting it. */
export function parseClusterNodes(urls: readonly string[], field = 'redisClusterNodes'): ClusterSeeds {
  if (urls.length === 0) throw new GuardAgentValidationError({ field, message: 'needs at least one seed node URL' }, 'Redis Cluster nodes');
  const { seeds, problems } = parseAll(urls, field);
  if (problems.length > 0) throw new GuardAgentValidationError(problems, 'Redis Cluster nodes');
  return seeds;
}

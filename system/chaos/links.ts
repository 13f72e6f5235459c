/**
 * The network links of the topology that the chaos run can cut, each through its own fault proxy
 * (fault-proxy.ts): `<client>-<service>`. The harness's own probes and the service's other clients
 * connect directly.
 */
export const LINKS = [
  'server-redis',
  'ingest-redis',
  'ingest-clickhouse',
  'scheduler-redis',
  'scheduler-api',
  'analysis-clickhouse',
] as const;
export type Link = (typeof LINKS)[number];

/** The component on the client side of a link: the one whose health the partition affects. */
export function linkClient(link: Link): 'server' | 'ingest' | 'scheduler' | 'analysis' {
  return link.slice(0, link.indexOf('-')) as 'server' | 'ingest' | 'scheduler' | 'analysis';
}

export type PartitionKind = `partition-${Link}`;

/** The same value for the partition kind of every link. */
export function perLink<T>(value: T): Record<PartitionKind, T> {
  return Object.fromEntries(LINKS.map((l) => [`partition-${l}`, value])) as unknown as Record<PartitionKind, T>;
}

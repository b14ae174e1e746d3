/**
 * The services of a default agent on a host with redis configured (the redis detector applies the
 * pack's service): with them a member's record is ~550 bytes, as in kunai-cluster.sh on this box.
 * No imports: the ideal agent of the join rows (scripts/bench/ideal_agent) loads it alone.
 */
export const AGENT_SERVICES: Record<string, unknown> = {
  redis: {
    name: "redis",
    apply_on: "redis",
    port: 6379,
    tags: [],
    notes: "Redis server (tag 'redis' comes from the redis detector)",
    id: "redis",
    from: "file:/var/lib/kunai/global-configuration/packs/redis/services/redis.json",
    state: "critical",
    state_id: 2,
    check: {
      id: "service:redis",
      state: "critical",
      state_id: 2,
      output: "Critical: redis is not available",
    },
  },
};

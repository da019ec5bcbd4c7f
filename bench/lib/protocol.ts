/** Messages between the bench orchestrator (parent) and a server child over the Node IPC channel. */

export interface ReadyMessage {
  type: 'ready';
  /** Where to connect (always loopback). */
  url: string;
  /** The issuer the server signs into tokens (may say `localhost` while `url` says 127.0.0.1). */
  issuer: string;
  pid: number;
}

export interface StatsRequest {
  type: 'stats';
  id: number;
}

export interface StatsMessage {
  type: 'stats';
  id: number;
  memory: NodeJS.MemoryUsage;
  /** Cumulative event-loop utilisation (idle/active ms since start). */
  elu: { idle: number; active: number };
  /** Cumulative query counts by "<verb> <table>" (our server only). */
  pg: Record<string, number>;
  /** Cumulative Redis commands by name (our server only). */
  redis: Record<string, number>;
}

export interface ShutdownRequest {
  type: 'shutdown';
}

/** Starts the V8 sampling profiler of the main thread, or stops it and writes the profile to `file`. */
export interface ProfileRequest {
  type: 'profile';
  id: number;
  action: 'start' | 'stop';
  file?: string;
}
export interface ProfileAck {
  type: 'profile';
  id: number;
  error?: string;
}

/** process.cpuUsage() of the server (all threads, µs resolution), for per-step CPU accounting. */
export interface CpuRequest {
  type: 'cpu';
  id: number;
}
export interface CpuMessage {
  type: 'cpu';
  id: number;
  user: number;
  system: number;
}

/**
 * Seeds `count` users with one password (argon2id-hashed once by the server) and a confirmed TOTP
 * each (our server only). Usernames are `<usernamePrefix><i>`, external ids `<externalIdPrefix><i>`.
 */
export interface SeedTotpRequest {
  type: 'seed-totp';
  id: number;
  count: number;
  usernamePrefix: string;
  externalIdPrefix: string;
  password: string;
}
export interface SeedTotpAck {
  type: 'seed-totp';
  id: number;
  users?: { username: string; secret: string }[];
  error?: string;
}

/**
 * Times `count` argon2id verifies of the login's password hash, one at a time, inside the server
 * (our server only): the cost one login pays for its password check, on the same pinned core.
 * `cpuMs` is process CPU (all threads, the hashing runs off the main thread), `wallMs` elapsed time.
 */
export interface Argon2Request {
  type: 'argon2';
  id: number;
  count: number;
}
export interface Argon2Ack {
  type: 'argon2';
  id: number;
  cpuMs?: number;
  wallMs?: number;
  error?: string;
}

export type ParentMessage = StatsRequest | ShutdownRequest | ProfileRequest | CpuRequest | SeedTotpRequest | Argon2Request;
export type ChildMessage = ReadyMessage | StatsMessage | ProfileAck | CpuMessage | SeedTotpAck | Argon2Ack;

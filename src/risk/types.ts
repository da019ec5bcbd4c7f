/** What a sign-in attempt looks like from outside: the facts every assessment starts from. */
export interface RiskContext {
  /** The client's address as the HTTP layer established it (socket, or the trusted proxy's hop). */
  ip: string;
  userAgent?: string;
  /** Our user id, when the attempt names a known account. */
  userId?: string;
  /** The organisation whose risk settings apply (the user's, or the calling platform's). */
  organizationId?: string | null;
  /** The device cookie's token, when the browser sent one. */
  deviceToken?: string;
  /** Epoch milliseconds. */
  at: number;
}

export type Recommendation = 'allow' | 'challenge' | 'deny';

export interface SignalOutcome {
  /** 0 (nothing unusual) … 1 (as suspicious as this signal gets). */
  score: number;
  /** Why: the facts the score was derived from, safe to log and to show an operator. */
  evidence: Record<string, unknown>;
}

export interface SignalResult extends SignalOutcome {
  name: string;
}

export interface Assessment {
  score: number;
  recommendation: Recommendation;
  signals: SignalResult[];
}

/** The `risk` settings block (snake_case, as in the settings API). */
export interface RiskSettings {
  challenge_threshold: number;
  deny_threshold: number;
  /** CIDRs whose addresses are refused whatever else the signals say. */
  deny_list: string[];
}

/** A past successful login of the user, as recorded. */
export interface LoginFact {
  at: Date;
  ip: string;
  network: string;
  country: string | null;
  latitude: number | null;
  longitude: number | null;
  deviceKey: string | null;
  uaFamily: string | null;
}

/**
 * What signals read beyond the context, each loaded at most once per assessment and only when a
 * signal asks (a signal that fails to load its facts fails alone, closed).
 */
export interface RiskFacts {
  /** The user's recent logins, newest first; undefined when the attempt names no known user. */
  history(): Promise<readonly LoginFact[] | undefined>;
  /** Whether the device cookie names one of the user's live trusted devices. */
  trustedDevice(): Promise<boolean>;
  /** Failed attempts against the account since then; undefined when the attempt names no known user. */
  failedAttemptsForAccount(since: Date): Promise<number | undefined>;
  /** Failed attempts from the address since then. */
  failedAttemptsForIp(since: Date): Promise<number>;
  settings(): Promise<RiskSettings>;
}

export interface SignalInput {
  context: RiskContext;
  facts: RiskFacts;
}

/** One risk signal: its own module, its own evidence; `weight` is how much a full score of it counts. */
export interface RiskSignal {
  name: string;
  weight: number;
  evaluate(input: SignalInput): Promise<SignalOutcome> | SignalOutcome;
}

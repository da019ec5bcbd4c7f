import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json<T = Record<string, unknown>> = ColumnType<T, string, string>;

export type UserStatus = 'active' | 'locked' | 'disabled';

export interface OrganizationsTable {
  id: Generated<string>;
  slug: string;
  name: string;
  settings: ColumnType<Record<string, unknown>, string | undefined, string>;
  createdAt: Generated<Date>;
  updatedAt: Generated<Date>;
}

export interface UsersTable {
  id: Generated<string>;
  externalId: string;
  username: string | null;
  email: string | null;
  phone: string | null;
  emailVerified: Generated<boolean>;
  phoneVerified: Generated<boolean>;
  passwordHash: string | null;
  status: Generated<UserStatus>;
  roles: ColumnType<string[], string[] | undefined, string[]>;
  organizationId: string;
  failedAttempts: Generated<number>;
  lockedUntil: Date | null;
  lastLoginAt: Date | null;
  /** Password checks reserved and not yet settled, and when the last one was reserved. */
  passwordChecksPending: Generated<number>;
  passwordChecksAt: ColumnType<Date | null, never, Date | null>;
  mfaFailedAttempts: Generated<number>;
  mfaLockedUntil: Date | null;
  mfaLockCount: Generated<number>;
  /** Set while the password is a temporary one an administrator issued: it signs in until then, and only into a change of password. */
  passwordTemporaryUntil: ColumnType<Date | null, Date | null | undefined, Date | null>;
  /** The name the person gives (pages and e-mails greet them by it). */
  name: ColumnType<string | null, string | null | undefined, string | null>;
  /** The language the person reads (`en`, `de`) when a request does not say one. */
  locale: ColumnType<string | null, string | null | undefined, string | null>;
  createdAt: Generated<Date>;
  updatedAt: Generated<Date>;
}

export interface ClientsTable {
  clientId: string;
  clientSecretSealed: string | null;
  metadata: Json;
  firstParty: Generated<boolean>;
  mfaPolicy: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>;
  organizationId: string;
  createdAt: Generated<Date>;
  updatedAt: Generated<Date>;
}

export interface ApiKeysTable {
  id: Generated<string>;
  prefix: string;
  secretHash: string;
  name: string;
  scopes: string[];
  organizationId: string | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  expiresAt: Date | null;
  createdAt: Generated<Date>;
}

export interface AuditEventsTable {
  id: Generated<number>;
  at: Generated<Date>;
  type: string;
  outcome: string;
  actor: string | null;
  subject: string | null;
  organizationId: string | null;
  ip: string | null;
  requestId: string | null;
  clientId: string | null;
  data: Json;
  /** Sent as the digest of the row's content; the database stores the chain hash (src/lib/audit-chain.ts). */
  hash: string;
  prevHash: Generated<string>;
}

/** The last link of the audit chain: one row, locked by every append. */
export interface AuditChainHeadTable {
  singleton: Generated<boolean>;
  lastId: number;
  /** The last row's prev_hash: kept so that the append trigger learns the link it replaces in one update. */
  prevHash: string;
  hash: string;
}

export interface SigningKeysTable {
  kid: string;
  use: 'sig' | 'cookie';
  alg: string;
  publicJwk: ColumnType<Record<string, unknown> | null, string | null, string | null>;
  privateSealed: string;
  createdAt: Generated<Date>;
  expiresAt: Timestamp | null;
}

export interface SamlSigningKeysTable {
  id: string;
  /** PEM of the self-signed certificate the metadata publishes. */
  certificate: string;
  /** PKCS#8 PEM of the private key, sealed. */
  privateSealed: string;
  createdAt: Generated<Date>;
  expiresAt: Timestamp | null;
}

export interface OidcPayloadsTable {
  model: string;
  id: string;
  payload: Json;
  grantId: string | null;
  uid: string | null;
  userCode: string | null;
  consumedAt: Date | null;
  expiresAt: Date | null;
}

export interface EphemeralEntriesTable {
  key: string;
  value: string;
  expiresAt: Date;
}

export interface CredentialsTable {
  id: Generated<string>;
  userId: string;
  kind: string;
  name: string | null;
  secretSealed: string | null;
  secretHash: string | null;
  confirmedAt: Date | null;
  lastUsedAt: Date | null;
  usedAt: Date | null;
  lastTotpStep: number | null;
  createdAt: Generated<Date>;
  updatedAt: Generated<Date>;
}

/** One answer to a security question, under the user's `credentials` row of kind `questions`: an argon2id hash, never the answer. */
export interface SecurityAnswersTable {
  credentialId: string;
  questionId: string;
  answerHash: string;
  createdAt: Generated<Date>;
}

/** A WebAuthn credential's key material and authenticator facts; its `credentials` row has the same id. */
export interface WebauthnCredentialsTable {
  id: string;
  /** base64url, as the authenticator reports it. */
  credentialId: string;
  publicKey: Buffer;
  signCount: ColumnType<number, number | undefined, number>;
  transports: string[];
  aaguid: string;
  authenticatorName: string | null;
  backupEligible: boolean;
  backedUp: boolean;
  userVerified: boolean;
  attestationFormat: string;
}

export interface TrustedDevicesTable {
  id: Generated<string>;
  userId: string;
  tokenHash: string;
  name: string;
  ip: string | null;
  userAgent: string | null;
  createdAt: Generated<Date>;
  lastUsedAt: Date | null;
  expiresAt: Date;
  revokedAt: Date | null;
}

/** A SAML service provider: its metadata as sent and the facts the IdP acts on, parsed from it. */
export interface SamlServiceProvidersTable {
  id: Generated<string>;
  entityId: string;
  organizationId: string;
  metadata: string;
  acsEndpoints: Json<SamlEndpoint[]>;
  sloEndpoints: Json<SamlEndpoint[]>;
  authnRequestsSigned: boolean;
  wantAssertionsSigned: boolean;
  /** PEM. */
  signingCertificates: string[];
  encryptionCertificates: string[];
  nameIdFormat: string;
  attributeMapping: Json<Record<string, string>>;
  signAssertions: boolean;
  encryptAssertions: boolean;
  /** A disabled SP gets no assertion: its requests are refused, IdP-initiated SSO to it too. */
  enabled: Generated<boolean>;
  createdAt: Generated<Date>;
  updatedAt: Generated<Date>;
}

export interface SamlSessionParticipantsTable {
  /** HMAC of the SSO session's uid. */
  sessionKey: string;
  spId: string;
  sessionUidSealed: string;
  accountId: string;
  sessionIndex: string;
  nameId: string;
  nameIdFormat: string;
  createdAt: Generated<Date>;
  expiresAt: Date;
}

export interface SamlEndpoint {
  binding: string;
  location: string;
  responseLocation?: string;
  index?: number;
  isDefault?: boolean;
}

/** One successful login's facts, as the risk engine compares later logins with them. */
export interface RiskLoginsTable {
  id: Generated<number>;
  userId: string;
  at: Date;
  ip: string;
  /** The IPv4 /24 or IPv6 /48 the address is in. */
  network: string;
  country: string | null;
  latitude: number | null;
  longitude: number | null;
  /** SHA-256 of the device cookie's token, when the login had one. */
  deviceKey: string | null;
  uaFamily: string | null;
}

/** One SSO session as the IdP tracks it beside the provider's entry (see migration 0019). */
export interface SessionRecordsTable {
  id: Generated<string>;
  sessionUid: string;
  userId: string;
  createdAt: Date;
  lastActiveAt: Date;
  authTime: Date;
  /** The absolute end the policy gave the session when it was signed in. */
  endsAt: Date;
  idleSeconds: number;
  rememberMe: Generated<boolean>;
  ip: string;
  userAgent: Generated<string>;
  uaFamily: string | null;
  /** SHA-256 of the browser's device cookie token when the session was signed in. */
  deviceKey: string | null;
  acr: string | null;
  amr: Generated<string[]>;
}

export interface SettingsTable {
  scope: string;
  data: ColumnType<Record<string, unknown>, string | undefined, string>;
  updatedAt: Generated<Date>;
}

export interface AuthnStatesTable {
  accountId: string;
  authTime: number;
  amr: string;
  events: Json<unknown[]>;
  stepUp: Generated<boolean>;
  trustedDeviceId: string | null;
  expiresAt: Date;
}

export interface PolicyRulesTable {
  id: Generated<string>;
  organizationId: string | null;
  name: string;
  condition: string;
  outcome: 'skip_mfa' | 'require_mfa' | 'deny';
  methods: string[] | null;
  minAcr: 'aal1' | 'aal2' | 'aal3' | null;
  priority: number;
  enabled: Generated<boolean>;
  createdAt: Generated<Date>;
  updatedAt: Generated<Date>;
}

/** One emergency access grant (see migration 0021); active and expired are read from `expiresAt`, never stored. */
export interface BreakGlassGrantsTable {
  id: Generated<string>;
  userId: string;
  organizationId: string;
  status: ColumnType<BreakGlassStatus, BreakGlassStatus | undefined, BreakGlassStatus>;
  reason: string;
  durationSeconds: number;
  permissions: string[];
  notifyAdmins: boolean;
  requestedBy: string;
  /** The requesting API key's id: a different key must approve, unless the organisation allows self-approval. */
  requestedByKey: string;
  requestedAt: Date;
  /** Who approved or denied it, and when. */
  decidedBy: string | null;
  decidedAt: Date | null;
  selfApproved: Generated<boolean>;
  startsAt: Date | null;
  expiresAt: Date | null;
  revokedBy: string | null;
  revokedAt: Date | null;
  firstUsedAt: Date | null;
  reviewedBy: string | null;
  reviewedAt: Date | null;
  reviewOutcome: 'appropriate' | 'inappropriate' | null;
  reviewNotes: string | null;
}

/** What a person decided about a grant; whether an approved one is still active is a matter of time. */
export type BreakGlassStatus = 'pending_approval' | 'approved' | 'denied' | 'revoked';

/** An SMS/voice provider (migration 0023); its auth token or signing secret is `secretSealed`, never returned. */
export interface DeliveryProvidersTable {
  id: Generated<string>;
  organizationId: string | null;
  type: 'twilio' | 'webhook';
  name: string;
  channels: string[];
  priority: number;
  enabled: Generated<boolean>;
  config: Json;
  secretSealed: string;
  createdAt: Generated<Date>;
  updatedAt: Generated<Date>;
}

export type DeliveryStatus = 'accepted' | 'sent' | 'delivered' | 'failed' | 'undelivered' | 'timeout';

/** One delivery attempt: who, which destination, which provider and what became of it; never the number, address or code. */
export interface DeliveriesTable {
  id: Generated<string>;
  organizationId: string | null;
  accountId: string | null;
  destinationId: string | null;
  channel: 'sms' | 'voice' | 'email';
  providerId: string | null;
  provider: string;
  status: DeliveryStatus;
  providerMessageId: string | null;
  error: string | null;
  createdAt: Generated<Date>;
  updatedAt: Generated<Date>;
}

export type RecoveryMethod = 'email' | 'phone' | 'trusted_contacts';
/** `waiting` turns ready at `readyAt` and every open request ends at `expiresAt`: both are read against the clock, never stored. */
export type RecoveryStatus = 'pending_confirmation' | 'pending_approvals' | 'waiting' | 'completing' | 'completed' | 'cancelled';

/** One recovery request of a user who lost every factor (see migration 0027). */
export interface RecoveryRequestsTable {
  id: string;
  userId: string;
  organizationId: string;
  method: RecoveryMethod;
  status: RecoveryStatus;
  /** Keyed hash of the link token or code sent to the verified destination; null once used. */
  tokenHash: string | null;
  /** Keyed hash of the token the start answered with: whoever enrols must hold it. */
  requestTokenHash: string;
  /** Keyed hash of the token the owner's notices carry to cancel the request. */
  cancelTokenHash: string | null;
  attempts: Generated<number>;
  requiredApprovals: Generated<number>;
  approvals: ColumnType<string[], string[] | undefined, string[]>;
  createdAt: Date;
  expiresAt: Date;
  confirmedAt: Date | null;
  readyAt: Date | null;
  completedAt: Date | null;
  cancelledAt: Date | null;
  cancelledBy: string | null;
  enrolledMethod: string | null;
}

export interface TrustedContactsTable {
  userId: string;
  contactId: string;
  createdAt: Generated<Date>;
}

/** A webhook subscription (see migration 0026); its signing secret is sealed with the SecretBox. */
export interface WebhookSubscriptionsTable {
  id: Generated<string>;
  /** null: the events of every organisation (an operator's subscription). */
  organizationId: string | null;
  url: string;
  events: string[];
  description: string | null;
  enabled: Generated<boolean>;
  secretSealed: string;
  createdAt: Generated<Date>;
  updatedAt: Generated<Date>;
}

export type WebhookDeliveryStatus = 'pending' | 'succeeded' | 'failed';

/** One event to deliver to one subscription, retried with backoff until it succeeds or runs out of attempts. */
export interface WebhookDeliveriesTable {
  id: Generated<string>;
  subscriptionId: string;
  eventType: string;
  payload: Json;
  attempts: Generated<number>;
  nextAttemptAt: Date;
  status: ColumnType<WebhookDeliveryStatus, WebhookDeliveryStatus | undefined, WebhookDeliveryStatus>;
  lastStatusCode: number | null;
  lastError: string | null;
  lastAttemptAt: Date | null;
  createdAt: Generated<Date>;
  updatedAt: Generated<Date>;
}

/** How prompts reach a device (see migration 0025); its `credentials` row (kind `prompt`) has the same id. */
export interface PromptDevicesTable {
  id: string;
  transport: PromptTransport;
  /** The device's ES256 public key (JWK): it signs the device's answers. */
  publicJwk: ColumnType<Record<string, unknown>, string, string>;
  /** Web Push: the browser's PushSubscription (JSON), sealed: its endpoint is a capability to push to the device. */
  subscriptionSealed: string | null;
}

export type PromptTransport = 'webpush' | 'webhook';

/** One prompt, looked up by the SHA-256 of its id (a bearer value); answered once. */
export interface PromptsTable {
  ref: string;
  userId: string;
  /** Keyed hash of the login it was started for: only that login's poll can use its answer. */
  bindingHash: string;
  number: number;
  choices: number[];
  status: ColumnType<PromptStatus, PromptStatus | undefined, PromptStatus>;
  appName: string;
  location: string;
  /** The device that answered. */
  deviceId: string | null;
  createdAt: Date;
  expiresAt: Date;
}

/**
 * `used`/`refused`: a poll of the login claimed the approval/denial; `finished`: the approval became
 * the login's factor; `closed`: replaced by a newer prompt of the same login.
 */
export type PromptStatus = 'pending' | 'approved' | 'denied' | 'used' | 'refused' | 'finished' | 'closed';

/** An organisation's own app, which pushes prompts to its users' devices; the secret signs what we send it. */
export interface PromptWebhooksTable {
  organizationId: string;
  url: string;
  secretSealed: string;
  updatedAt: Generated<Date>;
}

/** The IdP's VAPID key pair (RFC 8292), one row. */
export interface PromptVapidKeysTable {
  singleton: Generated<boolean>;
  publicKey: string;
  privateSealed: string;
}

export interface Database {
  credentials: CredentialsTable;
  securityAnswers: SecurityAnswersTable;
  webauthnCredentials: WebauthnCredentialsTable;
  trustedDevices: TrustedDevicesTable;
  settings: SettingsTable;
  authnStates: AuthnStatesTable;
  organizations: OrganizationsTable;
  users: UsersTable;
  clients: ClientsTable;
  samlServiceProviders: SamlServiceProvidersTable;
  samlSessionParticipants: SamlSessionParticipantsTable;
  apiKeys: ApiKeysTable;
  auditEvents: AuditEventsTable;
  auditChainHead: AuditChainHeadTable;
  signingKeys: SigningKeysTable;
  samlSigningKeys: SamlSigningKeysTable;
  oidcPayloads: OidcPayloadsTable;
  ephemeralEntries: EphemeralEntriesTable;
  policyRules: PolicyRulesTable;
  riskLogins: RiskLoginsTable;
  sessionRecords: SessionRecordsTable;
  promptDevices: PromptDevicesTable;
  prompts: PromptsTable;
  promptWebhooks: PromptWebhooksTable;
  promptVapidKeys: PromptVapidKeysTable;
  webhookSubscriptions: WebhookSubscriptionsTable;
  webhookDeliveries: WebhookDeliveriesTable;
  breakGlassGrants: BreakGlassGrantsTable;
  deliveryProviders: DeliveryProvidersTable;
  deliveries: DeliveriesTable;
  recoveryRequests: RecoveryRequestsTable;
  trustedContacts: TrustedContactsTable;
}

export type User = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type UserUpdate = Updateable<UsersTable>;
export type ClientRow = Selectable<ClientsTable>;
export type SamlServiceProviderRow = Selectable<SamlServiceProvidersTable>;
export type SamlSessionParticipantRow = Selectable<SamlSessionParticipantsTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;
export type SigningKeyRow = Selectable<SigningKeysTable>;
export type SamlSigningKeyRow = Selectable<SamlSigningKeysTable>;
export type PromptRow = Selectable<PromptsTable>;
export type Organization = Selectable<OrganizationsTable>;
export type CredentialRow = Selectable<CredentialsTable>;
export type WebhookSubscriptionRow = Selectable<WebhookSubscriptionsTable>;
export type WebhookDeliveryRow = Selectable<WebhookDeliveriesTable>;
export type TrustedDeviceRow = Selectable<TrustedDevicesTable>;
export type PolicyRuleRow = Selectable<PolicyRulesTable>;
export type RiskLoginRow = Selectable<RiskLoginsTable>;
export type SessionRecordRow = Selectable<SessionRecordsTable>;
export type BreakGlassGrantRow = Selectable<BreakGlassGrantsTable>;
export type DeliveryProviderRow = Selectable<DeliveryProvidersTable>;
export type DeliveryRow = Selectable<DeliveriesTable>;
export type RecoveryRequestRow = Selectable<RecoveryRequestsTable>;

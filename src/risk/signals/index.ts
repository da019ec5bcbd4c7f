import type { RiskSignal } from '../types.js';
import { denyList } from './deny-list.js';
import { failedAttemptsForAccount, failedAttemptsForIp } from './failed-attempts.js';
import { impossibleTravel } from './impossible-travel.js';
import { newCountry } from './new-country.js';
import { newDevice } from './new-device.js';
import { newNetwork } from './new-network.js';
import { unusualHour } from './unusual-hour.js';
import { userAgentAnomaly } from './user-agent-anomaly.js';

/** Every signal an assessment runs. */
export const SIGNALS: readonly RiskSignal[] = [
  newDevice,
  newNetwork,
  newCountry,
  impossibleTravel,
  failedAttemptsForAccount,
  failedAttemptsForIp,
  unusualHour,
  userAgentAnomaly,
  denyList,
];

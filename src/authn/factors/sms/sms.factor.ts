import type { Factor } from '../../factor.js';
import { createOtpFactor, type OtpFactorDeps } from '../../one-time-codes/otp-factor.js';
import { smsDescriptor } from './descriptor.js';
import { challengeView } from './sms.view.js';

export const createSmsFactor = (deps: OtpFactorDeps): Factor => createOtpFactor(smsDescriptor, challengeView, deps);

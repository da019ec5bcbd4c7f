import type { Factor } from '../../factor.js';
import { createOtpFactor, type OtpFactorDeps } from '../../one-time-codes/otp-factor.js';
import { emailDescriptor } from './descriptor.js';
import { challengeView } from './email.view.js';

export const createEmailFactor = (deps: OtpFactorDeps): Factor => createOtpFactor(emailDescriptor, challengeView, deps);

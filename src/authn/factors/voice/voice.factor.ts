import type { Factor } from '../../factor.js';
import { createOtpFactor, type OtpFactorDeps } from '../../one-time-codes/otp-factor.js';
import { voiceDescriptor } from './descriptor.js';
import { challengeView } from './voice.view.js';

export const createVoiceFactor = (deps: OtpFactorDeps): Factor => createOtpFactor(voiceDescriptor, challengeView, deps);

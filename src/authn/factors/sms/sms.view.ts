import { otpChallengeView } from '../../one-time-codes/otp.view.js';

export const challengeView = otpChallengeView('sms');

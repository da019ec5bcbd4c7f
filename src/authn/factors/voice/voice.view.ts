import { otpChallengeView } from '../../one-time-codes/otp.view.js';

export const challengeView = otpChallengeView('voice', 'Call me with a code at', 'Enter the 6-digit code read out in the call to');
